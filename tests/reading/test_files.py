"""Normalized reads (FORMAT.md section 3) and atomic writes."""
from __future__ import annotations

import os

import pytest

from cfs_build.reading.files import (UnreadableFile, atomic_write, normalize_bytes, normalize_text,
                                     read_inside)
from conftest import make_unreadable


@pytest.mark.parametrize("raw, want", [
    ("a\r\nb", "a\nb\n"),
    ("a\r\nb\r\n", "a\nb\n"),
    ("a\n\n", "a\n\n"),
    ("a\r\n\r\n", "a\n\n"),
    ("", "\n"),
    ("\n", "\n"),
    ("no final newline", "no final newline\n"),
    ("a\r", "a\n"),
    # Only one CR per line is dropped, and only at the end of the line.
    ("a\r\r\n", "a\r\n"),
    ("a\rb", "a\rb\n"),
    ("a\rb\r\n", "a\rb\n"),
    ("\r\n", "\n"),
    ("\r", "\n"),
    ("mixed\nlf\r\ncrlf\n", "mixed\nlf\ncrlf\n"),
])
def test_normalize_text(raw, want):
    assert normalize_text(raw) == want


def read_normalized(root, rel: str) -> bytes | None:
    """A project file's normalized read, as a chain position takes it (chain.Resolver)."""
    data = read_inside(os.path.realpath(root), rel)
    return None if data is None else normalize_bytes(data)


def test_crlf_file_reads_as_lf(tmp_path):
    (tmp_path / "f").write_bytes(b"one\r\ntwo\r\n")
    assert read_normalized(tmp_path, "f") == b"one\ntwo\n"


def test_lone_cr_is_content_not_a_line_end(tmp_path):
    (tmp_path / "f").write_bytes(b"one\rtwo")
    assert read_normalized(tmp_path, "f") == b"one\rtwo\n"


def test_empty_file_reads_as_one_newline(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    assert read_normalized(tmp_path, "f") == b"\n"


def test_bom_is_kept_as_text(tmp_path):
    # v5 decodes plain UTF-8: a BOM is a character of the file, not stripped silently.
    (tmp_path / "f").write_bytes(b"\xef\xbb\xbfx\r\n")
    assert read_normalized(tmp_path, "f") == b"\xef\xbb\xbfx\n"


def test_missing_file_is_none(tmp_path):
    assert read_normalized(tmp_path, "nope") is None
    assert read_normalized(tmp_path, "nope/deeper") is None


def test_file_below_a_regular_file_is_missing(tmp_path):
    (tmp_path / "plain").write_text("x")
    assert read_normalized(tmp_path, "plain/child") is None


def test_bytes_that_are_not_utf8_are_kept(tmp_path):
    # FORMAT.md 3: bytes are not decoded; invalid UTF-8 is hashed as it is.
    (tmp_path / "f").write_bytes(b"ok\r\n\xff\xfe")
    assert read_normalized(tmp_path, "f") == b"ok\n\xff\xfe\n"


def test_directory_is_unreadable_not_a_crash(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(UnreadableFile) as info:
        read_normalized(tmp_path, "d")
    assert info.value.path == "d"
    assert "directory" in info.value.reason


def test_unreadable_file_names_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/f").write_text("x")
    make_unreadable(tmp_path / "sub/f")
    with pytest.raises(UnreadableFile) as info:
        read_normalized(tmp_path, "sub/f")
    assert info.value.path == "sub/f"
    assert str(info.value).startswith("sub/f: ")


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    target = tmp_path / "sub" / "f"
    atomic_write(target, b"first")
    os.chmod(target, 0o640)
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["f"]



@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 300_001])
def test_read_inside_gives_every_byte(tmp_path, size):
    from cfs_build.reading.files import read_inside
    (tmp_path / "f").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    assert read_inside(str(tmp_path), "f") == (tmp_path / "f").read_bytes()


def test_read_inside_reads_on_past_what_the_stat_said(tmp_path, monkeypatch):
    # A file that grows between the stat and the read is read to its end; the ledger
    # keeps the stat from before, so the next run sees the change.
    from cfs_build.reading import files
    from cfs_build.reading.ledger import Ledger, signature_of
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    real_fstat = os.fstat

    def then_grown(fd):
        st = real_fstat(fd)
        with open(path, "ab") as handle:
            handle.write(b"def" * 100_000)
        return st

    monkeypatch.setattr(files.os, "fstat", then_grown)
    ledger = Ledger(tmp_path)
    assert files.read_inside(str(tmp_path), "f", ledger) == b"abc" + b"def" * 100_000
    monkeypatch.undo()
    assert ledger.seen("f")[2] == 3 and ledger.seen("f") != signature_of(str(path))


def test_a_file_written_faster_than_it_is_read_is_refused_not_read_without_end(tmp_path,
                                                                                monkeypatch):
    # `yes >> notes.txt` left running: each read found another megabyte behind it, and a
    # status read gigabytes until the kernel killed it for its memory.
    from cfs_build.reading import files
    path = tmp_path / "notes.txt"
    path.write_bytes(b"y\n" * 1000)
    real_read = os.read
    reads = []

    def behind_a_writer(fd, n):
        reads.append(n)
        assert len(reads) < 100, "read without end"
        with open(path, "ab") as handle:
            handle.write(b"y\n" * (1 << 19))
        return real_read(fd, n)

    monkeypatch.setattr(files.os, "read", behind_a_writer)
    with pytest.raises(UnreadableFile) as refused:
        files.read_inside(str(tmp_path), "notes.txt")
    assert refused.value.reason == ("grew by more than 1 MiB while it was read (something is "
                                    "writing it now); run cfs again once it is written")
    assert len(reads) <= 4
    reads.clear()
    with pytest.raises(UnreadableFile, match="grew by more than 1 MiB"):
        files.read_all(str(path))  # (how a _node.md is read)
    assert len(reads) <= 5


def test_read_inside_refuses_a_file_too_big_to_hold(tmp_path):
    # A sparse file claims a size it would take hours to read as zeros: its size is asked
    # for at once, and a process that cannot hold it says so instead of reading on.
    # (In a child process with its address space capped, whatever the machine's memory.)
    import subprocess
    import sys
    (tmp_path / "big.bin").touch()
    os.truncate(tmp_path / "big.bin", 1 << 34)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))\n"
        "from cfs_build.reading.files import UnreadableFile, read_inside\n"
        "try:\n"
        "    read_inside(sys.argv[1], 'big.bin')\n"
        "except UnreadableFile as exc:\n"
        "    print(exc.reason)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == f"is too big to read ({1 << 34} bytes)", done.stderr


@pytest.mark.parametrize("kind", ["directory", "symbolic link", "FIFO", "socket",
                                  "character device", "block device", "special file"])
def test_a_kind_is_named_with_the_article_it_is_read_with(kind):
    # "a FIFO" (said "fife-oh"), as every other kind cfs names: none starts with a vowel sound.
    from cfs_build.reading.files import NotRegular
    assert NotRegular("x", kind).reason.startswith(f"is a {kind}, not a ")


def test_state_that_is_a_fifo_is_named_a_fifo(tmp_path):
    from cfs_build.state.dirs import is_link_or_odd
    os.mkfifo(tmp_path / "pipe")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert is_link_or_odd(fd, "pipe") == "a FIFO"
    finally:
        os.close(fd)
