"""Atomic output folders, path sanitising and image header probes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from dataprep.errors import InputError, OutputError
from dataprep.files import atomic_output_dir, check_member, file_digest, probe_image, safe_join, transfer_files


def test_atomic_dir_commits_on_success(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with atomic_output_dir(dest) as tmp:
        (tmp / "a.txt").write_text("x")
        assert not dest.exists()
    assert (dest / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_leaves_nothing_on_error(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output_dir(dest) as tmp:
        (tmp / "a.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_existing_and_keeps_it_on_error(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(OutputError, match=r"already exists.*--overwrite"), atomic_output_dir(dest):
        pass
    with pytest.raises(RuntimeError), atomic_output_dir(dest, overwrite=True):
        raise RuntimeError("boom")
    assert (dest / "old.txt").read_text() == "old"
    with atomic_output_dir(dest, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dest.iterdir()] == ["new.txt"]


@pytest.mark.parametrize("name", ["../x.jpg", "/etc/passwd", "a/../../b.jpg", "C:/x.jpg", "..\\x.jpg", ""])
def test_unsafe_members_rejected(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsafe file name"):
        check_member(name, path="labels.json", record="images[3].file_name")
    with pytest.raises(OutputError, match="refusing"):
        safe_join(tmp_path, name)


def test_safe_members_cleaned(tmp_path: Path) -> None:
    assert check_member("./a\\b c/é.jpg") == "a/b c/é.jpg"
    assert safe_join(tmp_path, "x/y.png") == tmp_path / "x" / "y.png"


def test_probe_applies_exif_orientation(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    im.save(tmp_path / "r.jpg", exif=exif)
    header = probe_image(tmp_path / "r.jpg")
    assert (header.width, header.height, header.stored_width, header.stored_height) == (20, 40, 40, 20)
    assert header.rotated


def test_probe_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"bad\.jpg: not a readable image"):
        probe_image(tmp_path / "bad.jpg")
    with pytest.raises(InputError, match=r"missing\.jpg: image file not found"):
        probe_image(tmp_path / "missing.jpg")


def test_transfer_and_digest(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc")
    placed = transfer_files(
        [(src, tmp_path / "o" / "x" / "a.bin"), (tmp_path / "missing", tmp_path / "o" / "m")], "link"
    )
    assert placed == 1
    assert file_digest(tmp_path / "o" / "x" / "a.bin") == file_digest(src)


@pytest.mark.parametrize("fallback", [False, True])
def test_copy_places_bytes_and_skips_what_is_not_a_file(tmp_path: Path, monkeypatch, fallback: bool) -> None:
    import errno
    import os
    import signal


    if fallback:  # a file system without sendfile: plain reads and writes give the same bytes

        def no_sendfile(*args):
            raise OSError(errno.EINVAL, "Invalid argument")

        monkeypatch.setattr(os, "sendfile", no_sendfile)
    payload = os.urandom(3 << 20)  # over one read chunk
    (tmp_path / "big.bin").write_bytes(payload)
    (tmp_path / "empty.bin").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading must not wait for a writer
    (tmp_path / "folder.jpg").mkdir()
    names = ["big.bin", "empty.bin", "pipe.jpg", "folder.jpg", "missing.jpg"]
    signal.alarm(10)  # a blocked open would hang the suite: fail it instead
    try:
        placed = transfer_files([(tmp_path / n, tmp_path / "o" / n) for n in names], "copy")
    finally:
        signal.alarm(0)
    assert placed == 2
    assert (tmp_path / "o" / "big.bin").read_bytes() == payload
    assert (tmp_path / "o" / "empty.bin").read_bytes() == b""
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["big.bin", "empty.bin"]


def test_copy_raises_when_the_destination_cannot_be_written(tmp_path: Path, monkeypatch) -> None:
    import errno
    import os

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "sendfile", full)
    (tmp_path / "a.bin").write_bytes(b"abc")
    with pytest.raises(OSError) as info:
        transfer_files([(tmp_path / "a.bin", tmp_path / "o" / "a.bin")], "copy")
    assert info.value.errno == errno.ENOSPC


def test_unsafe_member_mask_agrees_with_check_member() -> None:
    import pandas as pd

    from dataprep.files import unsafe_member_mask

    names = [
        "../x.jpg",
        "/etc/passwd",
        "a/../../b.jpg",
        "C:/x.jpg",
        "..\\x.jpg",
        "",
        "a/b.jpg",
        "a..b/c.jpg",
        "..a.jpg",
    ]
    expected = []
    for n in names:
        try:
            check_member(n)
            expected.append(False)
        except InputError:
            expected.append(True)
    assert unsafe_member_mask(pd.Series(names)).tolist() == expected


# name, clean, bad: the one member-path rule (files.clean_members) on its edge cases.
MEMBER_TABLE = [
    ("a.jpg", "a.jpg", False),
    ("./a.jpg", "a.jpg", False),
    ("././a.jpg", "a.jpg", False),
    ("a//b.jpg", "a/b.jpg", False),
    ("a/./b.jpg", "a/b.jpg", False),
    ("a\\b.jpg", "a/b.jpg", False),
    (".\\a\\\\b.jpg", "a/b.jpg", False),
    ("b c/d e.jpg", "b c/d e.jpg", False),
    (" a.jpg ", " a.jpg ", False),
    ("é/日本.jpg", "é/日本.jpg", False),
    ("a..b/c.jpg", "a..b/c.jpg", False),
    ("..a.jpg", "..a.jpg", False),
    (".hidden", ".hidden", False),
    ("a.jpg:x", "a.jpg:x", False),
    ("a\nb.jpg", "a\nb.jpg", False),
    ("", "", True),
    (".", "", True),
    ("./", "", True),
    ("/", "", True),
    ("a/", "a", True),
    ("a\\", "a", True),
    ("a/.", "a", True),
    ("..", "", True),
    ("../x.jpg", "x.jpg", True),
    ("a/../../b.jpg", "a/../../b.jpg", True),
    ("a/..", "a/..", True),
    ("..\\x.jpg", "x.jpg", True),
    ("/etc/passwd", "etc/passwd", True),
    ("\\x.jpg", "x.jpg", True),
    ("\\\\server\\share\\x.jpg", "server/share/x.jpg", True),
    ("C:/x.jpg", "C:/x.jpg", True),
    ("c:x.jpg", "c:x.jpg", True),
    ("./C:/x.jpg", "C:/x.jpg", True),
    ("a\x00.jpg", "a\x00.jpg", True),
]


@pytest.mark.parametrize(("name", "clean", "bad"), MEMBER_TABLE)
def test_clean_members_table(name: str, clean: str, bad: bool, tmp_path: Path) -> None:
    from dataprep.files import clean_members

    got_clean, got_bad = clean_members([name])
    assert bool(got_bad[0]) is bad
    if not bad:
        assert got_clean[0] == clean
        assert check_member(name) == clean
        assert safe_join(tmp_path, name) == tmp_path / clean
    else:
        with pytest.raises(InputError, match="unsafe file name"):
            check_member(name)
        with pytest.raises(OutputError, match="refusing"):
            safe_join(tmp_path, name)


def test_clean_members_vectorized_matches_one_by_one() -> None:
    import numpy as np
    import pandas as pd

    from dataprep.files import clean_members, unsafe_member_mask

    names = [n for n, _, _ in MEMBER_TABLE]
    clean, bad = clean_members(names)
    assert clean.dtype == object and bad.dtype == bool
    assert bad.tolist() == [b for _, _, b in MEMBER_TABLE]
    assert [c for c, b in zip(clean, bad, strict=True) if not b] == [c for _, c, b in MEMBER_TABLE if not b]
    # the all-clean fast path, missing values, arrays and Series
    assert clean_members(np.array(["a.jpg", "b/c.png"], dtype=object))[0].tolist() == ["a.jpg", "b/c.png"]
    assert not clean_members(["a.jpg", "b/c.png"])[1].any()
    assert clean_members(pd.Series(["a.jpg", None, np.nan]))[1].tolist() == [False, True, True]
    assert unsafe_member_mask(pd.Series(["./a.jpg", "a/", "x//y"])).tolist() == [False, True, False]
    assert clean_members([])[0].shape == (0,)


def test_member_paths_join_clean_names_and_refuse_the_first_unsafe(tmp_path: Path) -> None:
    from dataprep.files import member_paths

    assert member_paths(tmp_path, ["a.jpg", "./b//c.png", "d\\e.jpg"]) == [
        f"{tmp_path}/a.jpg",
        f"{tmp_path}/b/c.png",
        f"{tmp_path}/d/e.jpg",
    ]
    assert member_paths(tmp_path, []) == []
    with pytest.raises(OutputError, match=r"refusing to write '\.\./x\.jpg'"):
        member_paths(tmp_path, ["ok.jpg", "../x.jpg", "/abs.jpg"])
