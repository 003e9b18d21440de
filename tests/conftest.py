"""Shared fixtures: vector projects copied to a temporary directory before use."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def vector(tmp_path):
    """Copy a vector case into tmp_path so runs never write into the pinned data."""

    def make(case: str) -> Path:
        target = tmp_path / case
        shutil.copytree(VECTORS / case, target)
        return target

    return make
