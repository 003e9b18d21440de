"""The manifest (FORMAT.md section 7): exact bytes, clear errors, and the flock discipline."""
from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from cfs_build.errors import CfsError
from cfs_build.state.manifest import (LOCK, MANIFEST, ManifestEntry, parse_manifest, read_manifest,
                                render_manifest, update_manifest)
from cfs_build.analysis.project import Project
from conftest import VECTORS

HEADER = "code-from-spec: v5\n"
C1 = "b8-d-9R57YJpf-5xm5-MYQoR_yo"
C2 = "h5ZteZYsQbSJo5-NyhNDBXcOxLo"


def entry(name: str, path: str = "out/x.txt") -> ManifestEntry:
    return ManifestEntry(name, path, C1, C2)


def line(name: str, path: str = "out/x.txt") -> str:
    return f"{name};path:{path};checksum:{C1};chain:{C2}\n"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "code-from-spec").mkdir()
    return tmp_path


def write(root, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    (root / MANIFEST).write_bytes(data)


@pytest.mark.parametrize("case", ["missing", "statuses"])
def test_vector_manifest_round_trips_byte_for_byte(case):
    data = (VECTORS / case / "code-from-spec" / ".manifest").read_bytes()
    entries = parse_manifest(data.decode("utf-8"))
    assert render_manifest(entries).encode("utf-8") == data


def test_statuses_manifest_fields(vector):
    manifest = read_manifest(vector("statuses"))
    assert manifest.existed
    assert manifest.get("ARTIFACT/payments/fees/rounding") == ManifestEntry(
        "ARTIFACT/payments/fees/rounding", "src/fees/rounding.py",
        "ROXx-K2UtCYloNtcxcHOnK118AM", "AAAAAAAAAAAAAAAAAAAAAAAAAAA")


def test_unchanged_update_writes_nothing(vector):
    root = vector("statuses")
    path = root / MANIFEST
    before = path.read_bytes()
    inode = path.stat().st_ino
    with update_manifest(root) as entries:
        entries["ARTIFACT/gone/node"] = entries["ARTIFACT/gone/node"]
    assert path.read_bytes() == before
    assert path.stat().st_ino == inode


def test_update_then_revert_is_byte_identical(vector):
    root = vector("statuses")
    before = (root / MANIFEST).read_bytes()
    with update_manifest(root) as entries:
        removed = entries.pop("ARTIFACT/gone/node")
    assert b"ARTIFACT/gone/node" not in (root / MANIFEST).read_bytes()
    with update_manifest(root) as entries:
        entries[removed.name] = removed
    assert (root / MANIFEST).read_bytes() == before


def test_written_sorted_with_lf_and_fixed_fields(root):
    with update_manifest(root) as entries:
        for name in ("ARTIFACT/b", "ARTIFACT/a/z", "ARTIFACT/a", "ARTIFACT/B"):
            entries[name] = entry(name, f"out/{name[9:]}.txt")
    data = (root / MANIFEST).read_bytes()
    assert data == (HEADER + line("ARTIFACT/B", "out/B.txt") + line("ARTIFACT/a", "out/a.txt")
                     + line("ARTIFACT/a/z", "out/a/z.txt")
                     + line("ARTIFACT/b", "out/b.txt")).encode()
    assert b"\r" not in data


def test_empty_manifest_is_just_the_header(root):
    with update_manifest(root) as entries:
        entries["ARTIFACT/x"] = entry("ARTIFACT/x")
    with update_manifest(root) as entries:
        entries.clear()
    assert (root / MANIFEST).read_bytes() == HEADER.encode()
    assert read_manifest(root).entries == {}


def test_crlf_manifest_is_read(root):
    write(root, (HEADER + line("ARTIFACT/a")).replace("\n", "\r\n"))
    assert read_manifest(root).entries == {"ARTIFACT/a": entry("ARTIFACT/a")}



def test_only_one_cr_before_a_line_end_is_dropped(root):
    # FORMAT.md 7.2 reads lines as section 3 does: one CR before the LF (or at the very
    # end) goes; a second one is part of the line, so v5 reads another chain ("H\r").
    write(root, HEADER + line("ARTIFACT/a").replace("\n", "\r\n") + line("ARTIFACT/c")[:-1]
          + "\r")
    assert list(read_manifest(root).entries) == ["ARTIFACT/a", "ARTIFACT/c"]
    write(root, HEADER + line("ARTIFACT/a").replace("\n", "\r\r\n"))
    assert read_manifest(root).entries["ARTIFACT/a"].chain == C2 + "\r"  # (stale for v5)
    write(root, HEADER.replace("\n", "\r\r\n") + line("ARTIFACT/a"))
    with pytest.raises(CfsError) as info:
        read_manifest(root)
    assert info.value.line == 1

def test_missing_final_newline_is_read(root):
    write(root, HEADER + line("ARTIFACT/a").rstrip("\n"))
    assert list(read_manifest(root).entries) == ["ARTIFACT/a"]


@pytest.mark.parametrize("text", ["", "\n", "code-from-spec: v4\n", "code-from-spec:v5\n",
                                  " code-from-spec: v5\n", line("ARTIFACT/a"),
                                  "code-from-spec: v5 \n"])
def test_damaged_header_names_line_one(root, text):
    write(root, text)
    with pytest.raises(CfsError) as info:
        read_manifest(root)
    assert (info.value.file, info.value.line) == (MANIFEST, 1)
    assert "header" in info.value.message
    assert str(info.value).startswith(f"{MANIFEST}:1: ")


@pytest.mark.parametrize("bad", [
    "",
    "garbage",
    "ARTIFACT/b;path:out/b;checksum:x",
    f"ARTIFACT/b path:out/b checksum:{C1} chain:{C2}",
])
def test_a_line_v5_would_drop_is_an_error_naming_it(root, bad):
    # Fewer than three ';': v5 drops the line silently, and with it the record (X3).
    write(root, HEADER + line("ARTIFACT/a") + bad + "\n" + line("ARTIFACT/c"))
    with pytest.raises(CfsError) as info:
        read_manifest(root)
    assert (info.value.file, info.value.line) == (MANIFEST, 3)
    assert "does not parse" in info.value.message


@pytest.mark.parametrize("written, fields", [
    # Fields keep what they hold when they lack their prefix, in place (FORMAT.md 7.2).
    (f"ARTIFACT/b;checksum:{C1};path:out/b;chain:{C2}",
     ("ARTIFACT/b", f"checksum:{C1}", "path:out/b", C2)),
    (f"ARTIFACT/b;out/b;{C1};{C2}", ("ARTIFACT/b", "out/b", C1, C2)),
    (f"SPEC/b;path:out/b;checksum:{C1};chain:{C2}", ("SPEC/b", "out/b", C1, C2)),
    # Spaces are part of the fields: v5 trims nothing (a name with one is another name).
    (f"ARTIFACT/b ;path: out/b ;checksum:{C1} ;chain:{C2} \t",
     ("ARTIFACT/b ", " out/b ", f"{C1} ", f"{C2} \t")),
    # The chain is the rest of the line.
    (f"ARTIFACT/b;path:out/b;checksum:{C1};chain:{C2};extra:1",
     ("ARTIFACT/b", "out/b", C1, f"{C2};extra:1")),
    # Hashes are compared, not checked: another shape is only another hash.
    ("ARTIFACT/b;path:a.txt;checksum:;chain:", ("ARTIFACT/b", "a.txt", "", "")),
    (f"ARTIFACT/b;path:a.txt;checksum:short;chain:{C2}", ("ARTIFACT/b", "a.txt", "short", C2)),
    ("ARTIFACT/b;path:path:x;checksum:checksum:c;chain:chain:h",
     ("ARTIFACT/b", "path:x", "checksum:c", "chain:h")),
])
def test_a_line_is_read_as_v5_reads_it(root, written, fields):
    write(root, HEADER + written + "\n")
    (found,) = read_manifest(root).entries.values()
    assert (found.name, found.path, found.checksum, found.chain) == fields


def test_a_later_line_for_a_name_replaces_the_earlier_one(root):
    write(root, HEADER + line("ARTIFACT/a") + line("ARTIFACT/b") + line("ARTIFACT/a", "o/2"))
    entries = read_manifest(root).entries
    assert sorted(entries) == ["ARTIFACT/a", "ARTIFACT/b"]
    assert entries["ARTIFACT/a"].path == "o/2"


def test_an_entry_read_as_v5_reads_it_is_written_back_in_v5_s_form(root):
    write(root, HEADER + f"ARTIFACT/b;out/b;short;{C2}\n" + line("ARTIFACT/a"))
    with update_manifest(root) as entries:
        entries["ARTIFACT/c"] = entry("ARTIFACT/c")
    assert (root / MANIFEST).read_text() == (
        HEADER + line("ARTIFACT/a") + f"ARTIFACT/b;path:out/b;checksum:short;chain:{C2}\n"
        + line("ARTIFACT/c"))


@pytest.mark.parametrize("data, line, column", [
    (HEADER.encode() + b"ARTIFACT/\xff;path:x;checksum:a;chain:b\n", 2, 10),
    (HEADER.encode() + line("ARTIFACT/a").encode() + b"ARTIFACT/b;path:\xc3;checksum:a;"
     b"chain:b\r\n" + line("ARTIFACT/c").encode(), 3, 17),
    (b"code-from-spec: v5\x80\n", 1, 19),
])
def test_non_utf8_manifest_is_an_error_naming_its_line(root, data, line, column):
    # Like any line that does not parse (X3), the one to fix is named.
    write(root, data)
    with pytest.raises(CfsError) as info:
        read_manifest(root)
    assert (info.value.file, info.value.line) == (MANIFEST, line)
    assert "not valid UTF-8" in info.value.message
    assert f"at column {column})" in info.value.message
    assert "restore the manifest from version control" in info.value.message


def test_a_manifest_that_is_a_directory_says_what_to_do(root):
    (root / MANIFEST).mkdir()
    (root / MANIFEST / "x").write_text(HEADER)
    with pytest.raises(CfsError) as info:
        read_manifest(root)
    assert info.value.file == MANIFEST
    assert info.value.message == (
        "cannot read the manifest: it is a directory, not a file; move it away and restore "
        "the manifest file from version control (or leave none: every artifact then counts "
        "as stale)")
    with pytest.raises(CfsError) as info:
        with update_manifest(root) as entries:
            entries["ARTIFACT/x"] = entry("ARTIFACT/x")
    assert "move it away" in info.value.message


def test_damaged_manifest_is_never_rewritten(root):
    damaged = HEADER + "garbage\n"
    write(root, damaged)
    with pytest.raises(CfsError):
        with update_manifest(root) as entries:
            entries["ARTIFACT/x"] = entry("ARTIFACT/x")
    assert (root / MANIFEST).read_text() == damaged


@pytest.mark.parametrize("name, path", [
    ("ARTIFACT/x", "out/a;b.txt"),
    ("ARTIFACT/a;b", "out/ab.txt"),
    ("ARTIFACT/x", "out/a\nb.txt"),
    ("ARTIFACT/x\ny", "out/x.txt"),
])
def test_entry_that_would_not_parse_back_is_refused(root, name, path):
    # Writing it would leave a manifest that stops every later command.
    write(root, HEADER + line("ARTIFACT/a"))
    with pytest.raises(CfsError) as info:
        with update_manifest(root) as entries:
            entries[name] = entry(name, path)
    assert "cannot record" in info.value.message
    assert (root / MANIFEST).read_text() == HEADER + line("ARTIFACT/a")


def test_an_entry_read_with_a_cr_inside_is_written_back_and_blocks_no_other_write(root):
    # v5 reads a CR inside a line as part of its field (FORMAT.md 3, 7.2) and writes the
    # entry back as it is; refusing it made every accept, build and forget fail.
    odd = f"ARTIFACT/a\rb;path:out/x\r.txt;checksum:{C1};chain:{C2}\n"
    write(root, HEADER + odd)
    with update_manifest(root) as entries:
        entries["ARTIFACT/c"] = entry("ARTIFACT/c")
    assert (root / MANIFEST).read_bytes().decode() == HEADER + odd + line("ARTIFACT/c")
    assert read_manifest(root).entries["ARTIFACT/a\rb"].path == "out/x\r.txt"


def test_body_that_raises_writes_nothing(root):
    write(root, HEADER)
    with pytest.raises(RuntimeError):
        with update_manifest(root) as entries:
            entries["ARTIFACT/x"] = entry("ARTIFACT/x")
            raise RuntimeError("stop")
    assert (root / MANIFEST).read_text() == HEADER


def test_a_lock_that_is_a_directory_is_read_through_and_refused_for_writes(root):
    # v5 reads the manifest holding a lock on the directory itself (validate_specs and
    # load_chain work), and no writer, v5's or cfs's, can open it as its lock: a read
    # needs none. A write is refused, naming the lock and what to do.
    write(root, HEADER + line("ARTIFACT/a"))
    (root / LOCK).mkdir()
    assert read_manifest(root).entries == {"ARTIFACT/a": entry("ARTIFACT/a")}
    with pytest.raises(CfsError) as info:
        with update_manifest(root) as entries:
            entries["ARTIFACT/b"] = entry("ARTIFACT/b")
    assert info.value.file == LOCK
    assert "is a directory, not a regular file" in info.value.message
    assert "Remove it" in info.value.message
    assert (root / MANIFEST).read_text() == HEADER + line("ARTIFACT/a")
    assert (root / LOCK).is_dir()


def test_missing_manifest_reads_empty(root):
    manifest = read_manifest(root)
    assert manifest.entries == {} and not manifest.existed


def test_missing_manifest_makes_every_artifact_stale(vector):
    root = vector("statuses")
    (root / MANIFEST).unlink()
    report = Project(root, use_index=False).report()
    assert {s.name: s.flags for s in report.artifacts} == {
        "ARTIFACT/payments/fees/calculation": ("stale", "untracked"),
        "ARTIFACT/payments/fees/rounding": ("stale", "untracked"),
    }
    assert report.orphans == ()


# -- two real processes ------------------------------------------------------------------------

def _writer(root: str, tag: str, count: int, start) -> None:
    start.wait()
    root = Path(root)
    for i in range(count):
        with update_manifest(root, timeout=60) as entries:
            name = f"ARTIFACT/{tag}/{i:04d}"
            entries[name] = ManifestEntry(name, f"out/{tag}/{i}.txt", C1, C2)


def _holder(root: str, held, release) -> None:
    with update_manifest(Path(root)) as entries:
        entries["ARTIFACT/held"] = ManifestEntry("ARTIFACT/held", "out/held", C1, C2)
        held.set()
        release.wait(30)


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_and_readers_never_see_a_torn_file(tmp_path):
    root = tmp_path
    (root / "code-from-spec").mkdir()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    # Enough rounds that read-modify-write without the lock reliably loses entries.
    count = 200
    writers = [ctx.Process(target=_writer, args=(str(root), tag, count, start))
               for tag in ("one", "two")]
    for process in writers:
        process.start()
    start.set()
    seen, reads = 0, 0
    while any(p.is_alive() for p in writers) or reads == 0:
        manifest = read_manifest(root)  # raises on a torn or half-written file
        assert len(manifest.entries) >= seen, "entries went missing between two reads"
        seen = len(manifest.entries)
        # Even without the lock, rename-into-place means a raw read is always whole.
        if (root / MANIFEST).exists():
            parse_manifest((root / MANIFEST).read_text())
        reads += 1
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    entries = read_manifest(root).entries
    assert len(entries) == 2 * count
    assert sorted(entries) == sorted(f"ARTIFACT/{tag}/{i:04d}" for tag in ("one", "two")
                                     for i in range(count))
    assert reads > 1


def test_lock_timeout_is_a_clear_error(root):
    write(root, HEADER)
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_holder, args=(str(root), held, release))
    holder.start()
    try:
        assert held.wait(30)
        began = time.monotonic()
        with pytest.raises(CfsError) as info:
            with update_manifest(root, timeout=0.2):
                pass
        assert time.monotonic() - began < 5
        assert info.value.file == LOCK
        assert "lock" in info.value.message and "0.2 s" in info.value.message
        with pytest.raises(CfsError) as info:
            read_manifest(root, timeout=0.2)
        assert "read" in info.value.message
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0
    # Once released, the holder's write is there and the lock is free again.
    assert list(read_manifest(root, timeout=5).entries) == ["ARTIFACT/held"]
