"""`cfs mcp` in the corners of v5's contract (MCP.md, FORMAT.md 1, 10.3): the project
changing under a running server in ways a fresh v5 process would answer without an error."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import VECTORS
from mcpkit import only_text, sync_client

pytest.importorskip("mcp")

NOT_FOUND = "Format errors:\n  [] scan: listing files: directory not found: code-from-spec/\n"


def _copy(case: str, root: Path) -> Path:
    shutil.copytree(VECTORS / case, root)
    (root / "expected.json").unlink()
    return root


@pytest.mark.slow
def test_validate_specs_is_never_an_error_even_when_the_tree_went_away(tmp_path):
    """MCP.md: validate_specs is never an error result; FORMAT.md 1: without
    code-from-spec/ its report is the scan line. The server started on a tree, so the
    tree going away (a checkout of another branch, a rename) is what it must answer."""
    root = _copy("basic", tmp_path / "basic")
    tree = root / "code-from-spec"
    with sync_client(root) as client:
        before = client.result("validate_specs")
        tree.rename(root / "moved")
        gone = client.result("validate_specs")
        tree.write_text("")  # a file where the directory was: no directory either
        a_file = client.result("validate_specs")
        tree.unlink()
        (root / "moved").rename(tree)
        back = client.result("validate_specs")
    assert not before.is_error and only_text(before).startswith("Staleness:\n")
    for answer in (gone, a_file):
        assert not answer.is_error
        assert only_text(answer) == NOT_FOUND
    assert not back.is_error and only_text(back) == only_text(before)
