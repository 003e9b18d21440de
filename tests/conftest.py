"""Shared fixtures: vector and fixture projects copied to tmp_path, small trees written inline,
and the v5 hashes recomputed from FORMAT.md with hashlib alone (never with cfs_build)."""
from __future__ import annotations

import base64
import gc
import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _collector_thresholds():
    """The collector's thresholds belong to the process: a doit run a test makes in
    process (`doit list`, which never starts a generation) may leave them relaxed, as
    building/collector.py allows for a process about to end; not into the next test."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


VECTORS = Path(__file__).parent / "vectors"
FIXTURES = Path(__file__).parent / "fixtures"


def _copier(tmp_path: Path, source: Path):
    """A function copying source/<name> into tmp_path, so runs never write into test data."""

    def make(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(source / name, target)
        return target

    return make


@pytest.fixture
def vector(tmp_path):
    """Copy a vector case into tmp_path (the vectors stay byte-identical to the shared ones)."""
    return _copier(tmp_path, VECTORS)


@pytest.fixture
def fixture(tmp_path):
    """Copy a tests/fixtures/<name> project into tmp_path."""
    return _copier(tmp_path, FIXTURES)


def spec(name: str, body: str = "", front: str | None = None) -> str:
    """Text of a _node.md: optional frontmatter lines, the name heading, then ``body``."""
    head = ""
    if front is not None:
        head = "---\n" + front + ("" if front.endswith("\n") or not front else "\n") + "---\n"
    return f"{head}# {name}\n{body}"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write a project: a key ``SPEC/x`` is the node's _node.md, any other key a file path."""
    (root / "code-from-spec").mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        if rel.startswith("SPEC/"):
            rel = f"code-from-spec/{rel[5:]}/_node.md"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def make_unreadable(path: Path) -> None:
    """Leave a file at ``path`` that exists but cannot be read.

    chmod 000 is ignored for root, so as root the file becomes a link to /proc/self/mem,
    a regular file whose read fails with EIO in whichever process opens it.
    """
    if os.geteuid() != 0:
        path.chmod(0)
    else:
        path.unlink()
        path.symlink_to("/proc/self/mem")


@pytest.fixture
def tree(tmp_path):
    """Write a small project below tmp_path/proj and return its root."""

    def make(files: dict[str, str | bytes]) -> Path:
        return write_tree(tmp_path / "proj", files)

    return make


# -- the v5 hashes, straight from FORMAT.md sections 6 and 7 ---------------------------------

def digest(text: str) -> bytes:
    """Content hash: raw SHA-1 of the UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8")).digest()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def chain_hash(*parts: str | bytes) -> str:
    """Chain hash: a str part is a position's text (hashed), a bytes part is raw (the marker)."""
    raw = b"".join(digest(p) if isinstance(p, str) else p for p in parts)
    return b64(hashlib.sha1(raw).digest())


def checksum(text: str) -> str:
    return b64(digest(text))


def _parser_params() -> list:
    """Both Markdown parsers cfs can read specs with, as values of CFS_PARSER."""
    import importlib.util

    from cfs_build.reading.parsers import PY, RS
    missing = importlib.util.find_spec("markdown_it_pyrs") is None
    return [PY, pytest.param(RS, marks=pytest.mark.skipif(
        missing, reason="markdown-it-pyrs has no wheel for this platform"))]


PARSERS = _parser_params()


SNAPSHOT_MARGIN = 0.02  # seconds; above a kernel clock tick, so tests need not wait long


@pytest.fixture
def short_margin(monkeypatch):
    """Snapshots trust a file SNAPSHOT_MARGIN after it was written (not the usual 0.1 s, or
    2 s on coarse file systems)."""
    from cfs_build.analysis import snapshot

    monkeypatch.setattr(snapshot, "MARGIN", int(SNAPSHOT_MARGIN * 1e9))
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", int(SNAPSHOT_MARGIN * 1e9))


# A small project the snapshot tests edit in every way: a root with a public section,
# a leaf with an output, and a leaf importing that artifact and an EXTERNAL/ file.
SNAPSHOT_TREE = {
    "SPEC/app": spec("SPEC/app", "Root.\n\n# Public\n## Rules\nBe kind.\n"),
    "SPEC/app/store": spec("SPEC/app/store", "Keeps things.\n\n# Agent\nWrite it.\n",
                           "output: out/store.py"),
    "SPEC/app/cli": spec("SPEC/app/cli", "Talks.\n\n# Agent\nWrite it.\n",
                         "depends_on:\n  - ARTIFACT/app/store\n  - EXTERNAL/docs/usage.txt\n"
                         "output: out/cli.py"),
    "docs/usage.txt": "usage\n",
    "out/store.py": "store = 1\n",
    "out/cli.py": "cli = 1\n",
}


def settle():
    """Let every file written so far become older than the short margin."""
    time.sleep(SNAPSHOT_MARGIN * 1.5)
