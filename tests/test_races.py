"""Files changing under a running build: what was there is kept, and cfs says why."""
from __future__ import annotations

import json
import sys

from buildkit import make_project

# Writes bytes that are not UTF-8 over the output while "generating" it, then replies.
MEDDLER = """import sys
document = sys.stdin.read()
open(sys.argv[1], "wb").write(b"\\xff\\xfe written meanwhile\\n")
print("<artifact>\\nhello\\n</artifact>")
"""


def meddled_project(tmp_path):
    """A project whose generator rewrites the output (as bytes no UTF-8 decoder takes)
    while it generates it; and that output."""
    proj = make_project(tmp_path)
    script = tmp_path / "meddler.py"
    script.write_text(MEDDLER)
    target = proj.root / "gen/other.txt"
    (proj.root / "cfs.toml").write_text(
        '[generator]\nkind = "command"\n'
        f"command = {json.dumps([sys.executable, str(script), str(target)])}\n")
    target.parent.mkdir()
    return proj, target


def test_output_rewritten_with_non_utf8_bytes_during_generation_is_kept(tmp_path):
    proj, target = meddled_project(tmp_path)
    result = proj.cfs("build", "SPEC/other")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gen/other.txt: the file changed while it was being generated and is no longer " \
           "UTF-8 text; nothing was written" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert target.read_bytes() == b"\xff\xfe written meanwhile\n"
    assert not (proj.root / "code-from-spec/.manifest").exists()


def test_a_generation_whose_file_could_not_be_kept_is_still_in_the_run_log(tmp_path):
    # The model was asked (and paid) before the write found the file changed: the run log,
    # where `cfs runs` sums what generations cost, had no line for it.
    proj, _ = meddled_project(tmp_path)
    assert proj.cfs("build", "SPEC/other").returncode == 1
    lines = [json.loads(line) for line in
             (proj.root / ".cfs/runs.jsonl").read_text().splitlines()]
    assert [(line["node"], line["outcome"], line["attempts"]) for line in lines] == \
        [("SPEC/other", "failed", 1)]
    assert lines[0]["message"].startswith("gen/other.txt: the file changed while it was being "
                                          "generated")
