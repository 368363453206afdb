"""prediction.py: predictions round-trip through the files `evaluate` reads, and export equals eager."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from test_training import tiny_classification

from dataprep.errors import OutputError, UsageError
from dataprep.evaluation import evaluate
from dataprep.prediction import export_model, predict, write_predictions
from dataprep.training import TrainConfig, train

DETECTION = REPO / "samples" / "detection" / "coco"


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("cls")
    data = tiny_classification(root / "data")
    result = train(data, TrainConfig(model="lenet", epochs=2, batch_size=8, lr=3e-3, threads=1), root / "run")
    return data, root / "run", result.test


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    if not DETECTION.is_dir():
        pytest.skip("samples/ not present")
    root = tmp_path_factory.mktemp("det")
    config = TrainConfig(model="grid-detector", epochs=1, batch_size=16, img_size=64, threads=1, conf_threshold=0.001)
    result = train(DETECTION, config, root / "run")
    return root / "run", result.test


def test_classification_csv_feeds_evaluate_with_the_training_numbers(classification_run, tmp_path: Path) -> None:
    data, run, test = classification_run
    pred = predict(run, data, split="test")
    path = write_predictions(pred, tmp_path / "pred.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "file_name,label,score" and len(lines) == 1 + 9
    result = evaluate(data, path, split="test")
    assert result.accuracy == pytest.approx(test["accuracy"])


def test_detection_results_json_and_yolo_folder_feed_evaluate(detection_run, tmp_path: Path) -> None:
    run, test = detection_run
    pred = predict(run, DETECTION, split="test")
    assert pred.annotations["score"].notna().all()
    coco = write_predictions(pred, tmp_path / "pred.json")
    records = json.loads(coco.read_text())
    assert all(set(r) == {"image_id", "category_id", "bbox", "score"} for r in records)
    result = evaluate(DETECTION, coco, split="test")
    assert result.stats["AP50"] == pytest.approx(test["AP50"], abs=1e-3)
    assert result.stats["AP"] == pytest.approx(test["AP"], abs=1e-3)
    yolo = write_predictions(pred, tmp_path / "yolo", to="yolo")
    assert (yolo / "data.yaml").is_file()
    assert evaluate(DETECTION, yolo / "labels" / "test", split="test").counts["gt"] == result.counts["gt"]


def test_predict_on_an_unknown_split_and_refused_outputs(classification_run, tmp_path: Path) -> None:
    data, run, _ = classification_run
    with pytest.raises(UsageError, match="no images in that split"):
        predict(run, data, split="holdout")
    pred = predict(run, data, split="val")
    (tmp_path / "pred.csv").write_text("mine")
    with pytest.raises(OutputError, match="--overwrite"):
        write_predictions(pred, tmp_path / "pred.csv")
    with pytest.raises(UsageError, match="cannot hold classification"):
        write_predictions(pred, tmp_path / "pred.json", to="coco")


def test_torchscript_export_equals_eager(classification_run, detection_run, tmp_path: Path) -> None:
    for run in (classification_run[1], detection_run[0]):
        info = export_model(run, tmp_path / run.parent.name, format="torchscript", repeats=3)
        assert info["max_abs_diff"] <= 1e-4
        assert Path(info["path"]).is_file() and info["exported_images_per_s"] > 0


def test_onnx_export_equals_eager(classification_run, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")  # the torch.export-based exporter's back end
    info = export_model(classification_run[1], tmp_path, format="onnx", repeats=3)
    assert info["max_abs_diff"] <= 1e-4


def test_a_detector_with_no_predictions_still_writes_a_coco_results_list(tmp_path: Path) -> None:
    # an undertrained detector can keep no box at all: the file must stay a results list that
    # `evaluate` reads, not fall back to the classification csv
    from dataprep.dataset import Dataset

    empty = Dataset.from_frames(info={"task": "detection"})
    path = write_predictions(empty, tmp_path / "preds.json")
    assert json.loads(path.read_text()) == []
