"""The garbage collector is slowed only while a build loads, and always given back."""
from __future__ import annotations

import gc

import pytest

from buildkit import make_project
from cfs_build import cli, collector


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield before
    collector.resume_collector()
    gc.set_threshold(*before)
    gc.unfreeze()


def test_pause_raises_the_thresholds_and_resume_gives_them_back(thresholds):
    collector.pause_collector()
    assert gc.get_threshold()[0] > 10 * thresholds[0]
    collector.pause_collector()  # a second pause keeps the first saved thresholds
    frozen = gc.get_freeze_count()
    collector.resume_collector()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() > frozen  # what the load made is out of the collector's way
    collector.resume_collector()  # resuming twice is harmless
    assert gc.get_threshold() == thresholds


@pytest.mark.parametrize("runs", [1, 2], ids=["generating", "no-op"])
def test_cfs_build_in_process_ends_with_the_usual_thresholds(tmp_path, monkeypatch, capfd,
                                                             thresholds, runs):
    proj = make_project(tmp_path)
    monkeypatch.chdir(proj.root)
    for _ in range(runs):
        assert cli.main(["-C", str(proj.root), "build"]) == 0
        assert gc.get_threshold() == thresholds
    out = capfd.readouterr().out
    assert "cfs: 4 generated" in out
    if runs == 2:
        assert "cfs: 0 generated, 4 up to date" in out, out
