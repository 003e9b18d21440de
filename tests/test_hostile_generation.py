"""A hostile model or model server against the generation: what it answers, and how.

Each backend is the real one, speaking HTTP to a loopback server that answers what a
hostile model or server would: nothing it sends may put anything but UTF-8 text the
reply protocol allows into the output, crash the build, or hold it past its timeout.
"""
from __future__ import annotations

import pytest

import fakeapi
from fakeapi import FakeAPI
from genkit import cfs, model_project

KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"}
OUTPUT = "gen/other.txt"


def toml(kind: str, url: str, extra: str = "") -> str:
    base = url if kind == "anthropic" else url + "/v1"
    return (f'[generator]\nkind = "{kind}"\nmodel = "test-model"\nbase_url = "{base}"\n'
            f"retry_delay = 0.01\nmax_attempts = 1\n{extra}")


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("where", ["artifact", "assumptions", "findings"])
@pytest.mark.parametrize("half", ["\ud800", "\udcff"])
def test_a_reply_with_a_lone_surrogate_is_unusable_and_nothing_is_written(
        tmp_path, monkeypatch, kind, where, half):
    # JSON's \ud800 (half a UTF-16 pair) decodes to a lone surrogate: written with
    # surrogateescape, \udcff became the byte 0xff in the output (no UTF-8), \ud800
    # failed to encode and the task ended in a traceback.
    reply = {"artifact": f"<artifact>\nx{half}y\n</artifact>\n",
             "assumptions": f"<artifact>\nok\n</artifact>\n<assumptions>\n{half}\n"
                            "</assumptions>\n",
             "findings": f"<findings>\nThe spec says {half}.\n</findings>\n"}[where]
    monkeypatch.setattr(fakeapi, "reply_for", lambda document: reply)
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml(kind, api.url))
        done = cfs(proj, "build", OUTPUT, env=KEYS)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert f"lone surrogate \\u{ord(half):04x}" in out, out
    assert "(saved in .cfs/reports/other.reply.txt)" in out, out
    saved = (proj.root / ".cfs/reports/other.reply.txt").read_bytes()
    assert saved.decode("utf-8") == reply.replace(half, f"\\u{ord(half):04x}")
    assert not (proj.root / OUTPUT).exists()
    assert not (proj.root / "code-from-spec/.manifest").exists()
    assert not (proj.root / ".cfs/reports/other.assumptions.txt").exists()
