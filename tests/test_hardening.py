"""Hostile datasets (issue 7): nothing from outside the dataset gets into the output, the input is
never modified, and what the output folder looks like afterwards."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import make_image
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import ExitCode, OutputError
from dataprep.files import atomic_output_dir, remove_stale_temporaries

runner = CliRunner()


def _coco(root: Path, names: list[str]) -> Path:
    images = [{"id": i, "file_name": n, "width": 8, "height": 8} for i, n in enumerate(names, 1)]
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 2, 2]} for i in range(1, len(names) + 1)]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    path = root / "annotations" / "instances.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _convert(*args: object):
    return runner.invoke(app, ["convert", *map(str, args)])


@pytest.fixture
def escaping(tmp_path: Path) -> Path:
    """A COCO dataset whose images/etc links to a folder outside it, plus one honest image."""
    secret = tmp_path / "outside"
    make_image(secret / "passwd.png", 8, 8, color=7)
    root = tmp_path / "data"
    make_image(root / "images" / "ok.png", 8, 8)
    (root / "images" / "etc").symlink_to(secret)
    (root / "images" / "inner").symlink_to(root / "images")  # a link that stays inside: fine
    _coco(root, ["ok.png", "etc/passwd.png", "inner/ok.png"])
    return root


def test_images_outside_the_root_are_refused(escaping: Path, tmp_path: Path) -> None:
    result = _convert(escaping, tmp_path / "out", "--to", "yolo", "--json")
    assert result.exit_code == ExitCode.FINDINGS, result.output
    data = json.loads(result.stdout)
    (loss,) = [x for x in data["written"]["losses"] if x["code"] == "image-outside-dataset"]
    assert loss["count"] == 1 and loss["examples"] == [2]
    assert data["written"]["images"] == 2
    assert not list((tmp_path / "out").rglob("passwd*"))
    assert "--follow-symlinks" in runner.invoke(app, ["convert", "--help"]).stdout


def test_follow_symlinks_allows_them(escaping: Path, tmp_path: Path) -> None:
    result = _convert(escaping, tmp_path / "out", "--to", "yolo", "--follow-symlinks")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out").rglob("passwd*.png"))) == 1


def test_symlinked_image_file_outside_the_root(tmp_path: Path) -> None:
    make_image(tmp_path / "elsewhere.png", 8, 8)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").symlink_to(tmp_path / "elsewhere.png")
    _coco(root, ["a.png"])
    result = _convert(root, tmp_path / "out", "--to", "voc")
    assert result.exit_code == ExitCode.FINDINGS and "image-outside-dataset" in result.stdout


def test_class_folder_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "cls"
    for k in range(3):
        for i in range(2):
            make_image(root / "train" / str(k) / f"{k}_{i}.png", 8, 8)
    (root / "train" / "0" / "up").symlink_to("..")  # ln -s .. train/0/up
    result = dataprep.formats.load(root, "folders")
    ds = result.dataset
    names = ds.categories["name"].tolist()
    per_class = ds.annotations.groupby("category_id").size()
    assert len(ds.images) == 6 and per_class.tolist() == [2, 2, 2], (names, per_class)
    assert any("did not follow 1 folder symlink" in note for note in result.notes)


def test_link_mode_links_the_resolved_file(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_image(root / "images" / "real" / "a.png", 8, 8)
    (root / "images" / "a.png").symlink_to("real/a.png")  # relative: would dangle in the output
    _coco(root, ["a.png"])
    result = _convert(root, tmp_path / "out", "--to", "yolo", "--images", "link")
    assert result.exit_code == 0, result.output
    (placed,) = [p for p in (tmp_path / "out").rglob("a.png")]
    assert not placed.is_symlink() and placed.read_bytes() == (root / "images" / "real" / "a.png").read_bytes()


def test_output_folder_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_output_dir(tmp_path / "o") as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "o").stat().st_mode & 0o777 == 0o755


def test_nul_bytes_refused_before_reading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "zero.json"
    path.write_bytes(b"  \n" + b"\0" * (1 << 20))
    result = runner.invoke(app, ["info", str(path), "--from", "coco", "--json"])
    assert result.exit_code == ExitCode.INPUT
    assert "first non-space byte" in json.loads(result.stdout)["error"]["message"]


def test_destination_inside_the_input_refused(tmp_path: Path) -> None:
    root = tmp_path / "yin"
    make_image(root / "images" / "a.png", 8, 8)
    _coco(root, ["a.png"])
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = _convert(root, root / "images" / "copy", "--to", "yolo")
    assert result.exit_code == ExitCode.OUTPUT and "inside the input" in result.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_stale_temporaries_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = tmp_path / ".o.tmp-999999999-abc"  # no such pid
    live = tmp_path / f".o.tmp-{os.getppid()}-abc"
    old = tmp_path / ".o.tmp-xyz"  # an older name without a pid, two days old
    for folder in (dead, live, old):
        folder.mkdir()
    stamp = time.time() - 2 * 86400
    os.utime(old, (stamp, stamp))
    removed = remove_stale_temporaries(tmp_path / "o")
    assert sorted(p.name for p in removed) == sorted([dead.name, old.name])
    with atomic_output_dir(tmp_path / "o") as tmp:
        (tmp / "f").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["o", live.name])


def test_sigterm_removes_the_temporary_folder(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    script = (
        "import time\nfrom dataprep.cli import _render\nfrom dataprep.files import atomic_output_dir\n"
        "_render._catch_sigterm()\n"
        f"with atomic_output_dir({str(tmp_path / 'o')!r}) as tmp:\n    print('ready', flush=True)\n    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert list(tmp_path.iterdir()) == []


def test_collected_unsafe_names_are_out_of_the_output(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_image(root / "images" / "a.png", 8, 8)
    _coco(root, ["a.png", "../../b.png"])
    result = _convert(root, tmp_path / "out", "--to", "yolo", "--on-error", "collect", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["written"]["images"] == 1
    assert [f["code"] for f in data["findings"]] == ["unsafe-file-name"]


def test_concurrent_destination_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "o"
    with pytest.raises(OutputError, match="appeared"), atomic_output_dir(dest) as tmp:
        (tmp / "mine").write_text("1")
        dest.mkdir()
    assert list(dest.iterdir()) == []
