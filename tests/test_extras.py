"""The install command an error names for an optional part is the extra's own packages."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cfs_build.extras import install_command

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


@pytest.mark.parametrize("extra", ["anthropic", "openai", "mcp"])
def test_the_command_names_the_packages_of_the_extra(extra):
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"][extra]
    names = [req.split(">")[0].split("<")[0].split("=")[0] for req in declared]
    command = install_command(extra)
    assert command.startswith("pip install '") and "cfs-build[" not in command
    assert [word.strip("'").split(">")[0].split("<")[0].split("=")[0]
            for word in command.split()[2:]] == names


def test_a_source_tree_never_installed_names_the_declared_requirements(monkeypatch):
    # Without installed metadata (cfs run from a checkout on PYTHONPATH), the command
    # still carries the version limits pyproject.toml declares.
    import importlib.metadata

    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "requires", absent)
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["mcp"]
    assert install_command("mcp") == "pip install " + " ".join(f"'{r}'" for r in declared)
