"""``dataprep encode`` and ``dataprep anchors`` through the CLI: outputs, --json, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from dataprep.cli import app
from dataprep.errors import ExitCode

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "detection" / "coco"


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_anchors_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke("anchors", SAMPLES, "--k", 6, "--restarts", 2, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["anchors"]) == 6 and all(len(a) == 2 for a in data["anchors"])
    assert 0 < data["mean_iou"] <= 1 and 0 <= data["bpr"] <= 1
    assert data["given"]["source"] == "yolov3" and len(data["given"]["anchors"]) == 9
    with capsys.disabled():
        print(f"\nanchors on samples/: k-means {data['mean_iou']} / BPR {data['bpr']}; YOLOv3 {data['given']['bpr']}")


def test_anchors_human_with_given() -> None:
    result = invoke("anchors", SAMPLES, "--k", 3, "--scales", 1, "--given", "10,13 16,30", "--given", "33,23")
    assert result.exit_code == 0, result.output
    assert "mean best IoU" in result.stdout and "given" in result.stdout


def test_anchors_k_above_distinct_boxes_is_exit_2_with_json() -> None:
    result = invoke("anchors", SAMPLES, "--k", 999, "--scales", 1, "--json")
    assert result.exit_code == ExitCode.USAGE
    data = json.loads(result.stdout)
    # the shared error object (schemas/error.schema.json), as every other command prints it
    assert "--k 999 is more than the" in data["error"]["message"] and data["error"]["code"] == 2
    assert set(data["error"]) == {"code", "message", "path"}


def test_encode_anchors_writes_npz_layout_report_and_png(tmp_path: Path) -> None:
    out, png = tmp_path / "t", tmp_path / "show.png"
    result = invoke("encode", SAMPLES, out, "--anchors", "yolov3", "--dense", "--show", 2, "--png", png, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["boxes"] == 145 and data["encoded_boxes"] + sum(data["dropped"].values()) == 145
    assert sorted(p.name for p in out.iterdir()) == [
        "layout.json", "report.json", "test.npz", "test_dense.npz", "train.npz", "train_dense.npz",
        "val.npz", "val_dense.npz",
    ]  # fmt: skip
    train = np.load(out / "train.npz")
    assert {"tx", "ty", "tw", "th", "scale", "anchor", "row", "col", "weight", "class_index"} <= set(train.files)
    report = json.loads((out / "report.json").read_text())
    assert len(report["dropped_boxes"]) == sum(report["dropped"].values())
    assert all({"image_id", "annotation_id", "reason"} <= set(d) for d in report["dropped_boxes"])
    with Image.open(png) as img:
        assert img.size == (416, 416)
    again = invoke("encode", SAMPLES, out, "--anchors", "yolov3")
    assert again.exit_code == ExitCode.OUTPUT and "already exists" in again.output


def test_encode_grid_human_output(tmp_path: Path) -> None:
    result = invoke(
        "encode", SAMPLES, tmp_path / "g", "--grid", 4, "--img-size", 128, "--keep", "last", "--wh-units", "cell"
    )
    assert result.exit_code == 0, result.output
    assert "Targets per split" in result.stdout and "collision" in result.stdout


def test_encode_anchors_file_and_auto(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.json"
    fit = invoke("anchors", SAMPLES, "--k", 6, "--json")
    anchors.write_text(fit.stdout, encoding="utf-8")
    result = invoke("encode", SAMPLES, tmp_path / "f", "--anchors", anchors, "--assign", "ratio:4", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layout"]["anchors"] == json.loads(fit.stdout)["anchors"]
    auto = invoke("encode", SAMPLES, tmp_path / "a", "--anchors", "auto", "--k", 6, "--json")
    assert auto.exit_code == 0 and json.loads(auto.stdout)["anchor_fit"]["anchors"] == json.loads(fit.stdout)["anchors"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", 7, "--img-size", 416], "--grid 7 does not divide --img-size 416"),
        ([], "choose one target layout"),
        (["--anchors", "yolov3", "--assign", "ratio:0.5"], "--assign 'ratio:0.5'"),
        (["--anchors", "yolov3", "--show", 2], "--show IMAGE_ID and --png FILE go together"),
        (["--anchors", "yolov3", "--show", 999, "--png", "x.png"], "--show 999: no such image_id"),
        (["--grid", 7, "--dense", "--max-dense-mb", 0], "Drop --dense"),
    ],
)
def test_encode_usage_errors_exit_2(tmp_path: Path, args: list, message: str) -> None:
    result = invoke("encode", SAMPLES, tmp_path / "o", *args, "--json")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in json.loads(result.stdout)["error"]["message"]
    assert not (tmp_path / "o").exists()


def test_encode_unparseable_anchors_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("10,13 16,thirty\n", encoding="utf-8")
    result = invoke("encode", SAMPLES, tmp_path / "o", "--anchors", bad)
    assert result.exit_code == ExitCode.USAGE
    assert f"{bad}: cannot read 'thirty' as a number" in result.output


def test_encode_missing_input_exit_3(tmp_path: Path) -> None:
    result = invoke("encode", tmp_path / "nothing", tmp_path / "o", "--grid", 7, "--json")
    assert result.exit_code == ExitCode.INPUT
    error = json.loads(result.stdout)["error"]
    assert error["code"] == 3 and error["path"] == str(tmp_path / "nothing")


def test_encode_reports_bad_boxes_with_ids(tmp_path: Path) -> None:
    from conftest import make_image

    import dataprep

    make_image(tmp_path / "src" / "a.png", 64, 48)
    boxes = np.array([[10, 10, 30, 30], [20, 20, 20, 30], [100, 100, 120, 120], [50, 30, 90, 60]], dtype=float)
    ds = dataprep.Dataset.from_frames(
        {"image_id": [1], "file_name": ["a.png"], "width": [64], "height": [48]},
        {"annotation_id": [1, 2, 3, 4], "image_id": [1] * 4, "category_id": [1] * 4,
         "x_min": boxes[:, 0], "y_min": boxes[:, 1], "x_max": boxes[:, 2], "y_max": boxes[:, 3]},
        {"category_id": [1], "name": ["a"]},
        root=tmp_path / "src",
    )  # fmt: skip
    dataprep.write(ds, tmp_path / "coco", "coco")
    result = invoke("encode", tmp_path / "coco", tmp_path / "o", "--grid", 4, "--img-size", 64, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dropped_boxes"] == [
        {"image_id": 1, "annotation_id": 2, "reason": "box-zero-area", "by_annotation_id": -1}
    ]
    assert data["skipped"] == {"box-outside-image": 1} and data["clipped_boxes"] == [4]
    train = np.load(tmp_path / "o" / "all.npz")
    assert sorted(train["annotation_id"].tolist()) == [1, 4]
    assert all(np.isfinite(train[c]).all() for c in ("tx", "ty", "tw", "th"))
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["dropped_boxes"] == data["dropped_boxes"]
