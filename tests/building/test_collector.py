"""The garbage collector is slowed only while a build loads, and always given back."""
from __future__ import annotations

import gc

import pytest

from buildkit import make_project
from cfs_build import cli
from cfs_build.building import collector


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_relaxing_raises_the_thresholds_and_restoring_gives_them_back(thresholds):
    relaxed = collector.Relaxed()
    assert gc.get_threshold()[0] > 10 * thresholds[0]
    inner = collector.Relaxed()  # made while relaxed: the first one keeps what to give back
    assert not inner.active
    inner.restore()
    assert gc.get_threshold() == collector.RELAXED
    relaxed.restore()
    assert gc.get_threshold() == thresholds
    relaxed.restore()  # restoring twice is harmless
    assert gc.get_threshold() == thresholds


def test_relaxed_as_a_context_gives_the_thresholds_back_on_an_error(thresholds):
    with pytest.raises(KeyError):
        with collector.Relaxed():
            assert gc.get_threshold() == collector.RELAXED
            raise KeyError("boom")
    assert gc.get_threshold() == thresholds


def test_two_relaxations_one_after_the_other_keep_apart(thresholds):
    first = collector.Relaxed()
    first.restore()
    gc.set_threshold(1234, 5, 6)  # the caller changes its thresholds meanwhile
    second = collector.Relaxed()
    first.restore()  # a spent one gives nothing back
    assert gc.get_threshold() == collector.RELAXED
    second.restore()
    assert gc.get_threshold() == (1234, 5, 6)


def test_generations_resuming_at_once_in_threads_all_succeed(thresholds):
    import threading
    errors = []

    relaxed = collector.Relaxed()

    def resume():
        try:
            for _ in range(200):
                relaxed.restore()
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


def test_a_runs_first_generation_gives_the_thresholds_back(tmp_path, thresholds):
    from cfs_build.building.generate import BuildState
    from cfs_build.reading.names import spec_of
    from cfs_build.building.tasks import make_tasks
    proj = make_project(tmp_path)
    state = BuildState(proj.root, collector=collector.Relaxed())
    assert gc.get_threshold() == collector.RELAXED  # loading and judging: rarely
    seen = []
    generate = state.generate
    state.generate = lambda node: (seen.append(gc.get_threshold()), generate(node))[1]
    action, args = make_tasks(state)[0]["actions"][0]
    action(*args)
    assert seen == [thresholds]
    assert args[1] == spec_of(state.artifacts[0])


def test_plain_doit_ends_with_the_thresholds_it_started_with(tmp_path):
    proj = make_project(tmp_path)
    dodo = proj.root / "dodo.py"
    # Printed when doit's process ends: the thresholds before the import and at the end.
    dodo.write_text("import atexit, gc\nbefore = gc.get_threshold()\n" + dodo.read_text()
                    + "atexit.register(lambda: print('thresholds', before == gc.get_threshold(),"
                      " gc.get_threshold() != (100_000, 50, 100)))\n")
    result = proj.doit(check=True)
    assert "thresholds True True" in result.stdout, result.stdout + result.stderr
    assert len(proj.generated_nodes()) == 4
