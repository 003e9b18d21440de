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


def test_pause_raises_the_thresholds_and_resume_gives_them_back(thresholds):
    collector.pause_collector()
    assert gc.get_threshold()[0] > 10 * thresholds[0]
    collector.pause_collector()  # a second pause keeps the first saved thresholds
    collector.resume_collector()
    assert gc.get_threshold() == thresholds
    collector.resume_collector()  # resuming twice is harmless
    assert gc.get_threshold() == thresholds


def test_generations_resuming_at_once_in_threads_all_succeed(thresholds):
    import threading
    errors = []

    def resume():
        try:
            for _ in range(200):
                collector.pause_collector()
                collector.resume_collector()
        except Exception as exc:  # a race would show as a TypeError here
            errors.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert gc.get_threshold() == thresholds


def test_a_build_that_fails_before_doit_gives_the_thresholds_back(tmp_path, monkeypatch,
                                                                  thresholds):
    proj = make_project(tmp_path)
    monkeypatch.chdir(proj.root)
    assert cli.main(["-C", str(proj.root), "build", "SPEC/no/such/node"]) == 3
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
