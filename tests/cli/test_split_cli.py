"""``dataprep split`` through the CLI: written splits, --json (errors too), exit codes, byte-identical output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.dataset import Dataset
from dataprep.errors import ExitCode

runner = CliRunner()
N_IMAGES = 36


@pytest.fixture(scope="module")
def coco_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO set of 36 distinct textured images (3 classes), plus one byte-identical copy."""
    base = tmp_path_factory.mktemp("split-cli")
    root = base / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 48), Image.Resampling.BICUBIC).save(root / f"img_{i:02d}.png")
    (root / f"img_{N_IMAGES:02d}.png").write_bytes((root / "img_05.png").read_bytes())
    n = N_IMAGES + 1
    image_id = np.repeat(np.arange(1, n + 1), 2)
    x0 = rng.uniform(0, 40, len(image_id)).round(1)
    y0 = rng.uniform(0, 30, len(image_id)).round(1)
    ds = Dataset.from_frames(
        {
            "image_id": np.arange(1, n + 1),
            "file_name": [f"img_{i:02d}.png" for i in range(n)],
            "width": [64] * n,
            "height": [48] * n,
        },
        {
            "annotation_id": np.arange(1, len(image_id) + 1),
            "image_id": image_id,
            "category_id": rng.integers(1, 4, len(image_id)),
            "x_min": x0,
            "y_min": y0,
            "x_max": x0 + 10,
            "y_max": y0 + 10,
        },
        {"category_id": [1, 2, 3], "name": ["cat", "dog", "bird"]},
        root=root,
    )
    dataprep.write(ds, base / "coco", "coco")
    return base / "coco"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_split_writes_splits_and_reports_json(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "out"), "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["split"] for s in data["splits"]] == ["train", "val", "test"]
    assert sum(s["images"] for s in data["splits"]) == N_IMAGES + 1
    assert data["leaks"]["statement"] == "no image content appears in two splits"
    assert data["groups"]["identical_content"] == {"sets": 1, "images": 2}
    assert {c["name"] for c in data["classes"]} == {"cat", "dog", "bird"}
    assert data["largest_deviation"]["deviation"] >= 0
    out = dataprep.read(tmp_path / "out")
    assert out.splits == ["train", "val", "test"]
    by_name = out.images.set_index(out.images["file_name"].str.rsplit("/", n=1).str[-1])["split"]
    assert by_name["img_05.png"] == by_name[f"img_{N_IMAGES:02d}.png"]
    assert dataprep.validate(tmp_path / "out").exit_code == 0


def test_split_output_is_byte_identical(coco_dir: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / name), "--ratios", "80,20"])
        assert result.exit_code == 0, result.output
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_split_to_yolo_labels_only(coco_dir: Path, tmp_path: Path) -> None:
    args = ["split", str(coco_dir), str(tmp_path / "y"), "--to", "yolo", "--images", "none", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["leaks"]["content_checked"] is False
    assert any("content grouping skipped" in note for note in data["notes"])
    assert (tmp_path / "y" / "data.yaml").is_file()
    assert not list((tmp_path / "y").rglob("*.png"))


def test_split_human_output(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "h"), "--ratios", "train=50,val=50"])
    assert result.exit_code == 0, result.output
    assert "Splits" in result.stdout
    assert "Share of each class" in result.stdout
    assert "no image content appears in two splits" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--ratios", "70,20"], ExitCode.USAGE, "--ratios '70,20': the parts sum to 90"),
        (["--group-by", "camera"], ExitCode.USAGE, "--group-by 'camera': no image field"),
        (["--near-duplicates", "many"], ExitCode.USAGE, "--near-duplicates 'many'"),
        (["--stratify", "boxes"], ExitCode.USAGE, "--stratify 'boxes': choose one of auto, class, none"),
        (["--to", "tfrecord"], ExitCode.USAGE, "--to 'tfrecord': not a format"),
        (["--images", "symlink"], ExitCode.USAGE, "--images 'symlink'"),
    ],
)
def test_split_usage_errors_exit_2_with_json(coco_dir: Path, tmp_path: Path, args: list[str], code: int, text: str):
    result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "o"), *args, "--json"])
    assert result.exit_code == code
    error = json.loads(result.stdout)["error"]
    assert text in error["message"]
    assert error["code"] == code and set(error) == {"code", "message", "path"}  # the shared error object
    assert not (tmp_path / "o").exists()


def test_split_refuses_existing_output_and_missing_input(coco_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "o")])
    assert result.exit_code == ExitCode.OUTPUT
    assert "--overwrite" in result.stderr
    result = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "o"), "--overwrite"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["split", str(tmp_path / "nothing"), str(tmp_path / "p"), "--json"])
    assert result.exit_code == ExitCode.INPUT
    assert "no such file" in json.loads(result.stdout)["error"]["message"]


def test_split_keep_existing(coco_dir: Path, tmp_path: Path) -> None:
    first = runner.invoke(app, ["split", str(coco_dir), str(tmp_path / "s1"), "--json"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["split", str(tmp_path / "s1"), str(tmp_path / "s2"), "--keep-existing", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kept_existing"] == N_IMAGES + 1
    before = dataprep.read(tmp_path / "s1").images.set_index("file_name")["split"]
    after = dataprep.read(tmp_path / "s2").images.set_index("file_name")["split"]
    assert after.sort_index().equals(before.sort_index())
