"""``dataprep evaluate`` through the CLI: summary, --json (errors too), --report, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import ExitCode

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
GT = REPO / "samples" / "detection" / "coco"


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gt = dataprep.read(GT)
    a = gt.annotations
    rng = np.random.default_rng(0)
    rows = [
        {
            "image_id": int(i),
            "category_id": int(c),
            "bbox": [x0 + 1, y0, x1 - x0, y1 - y0],
            "score": float(round(rng.random(), 2)),
        }
        for i, c, x0, y0, x1, y1 in a[["image_id", "category_id", "x_min", "y_min", "x_max", "y_max"]].itertuples(
            index=False
        )
    ]
    path = tmp_path_factory.mktemp("cli") / "results.json"
    path.write_text(json.dumps(rows))
    return path


def test_summary_and_tables(results_file: Path) -> None:
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file)])
    assert res.exit_code == 0, res.output
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in res.stdout
    assert "Per class" in res.stdout and "matched images by id, classes by id" in res.stdout


def test_json_has_every_stat_at_full_precision(results_file: Path) -> None:
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--json", "--iou", "0.6"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert [data[n] for n in names] == data["stats"]
    api = dataprep.evaluate(GT, results_file, iou=0.6)
    assert data["stats"] == api.stats_list and data["iou"] == 0.6
    assert data["voc"]["mAP"] == api.voc["mAP"]


def test_report_written_and_refused_without_overwrite(results_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "index.html").is_file() and (out / "confusion.png").is_file()
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--report", str(out), "--json"])
    assert res.exit_code == ExitCode.OUTPUT
    assert json.loads(res.stdout)["error"]["code"] == 4
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--report", str(out), "--overwrite"])
    assert res.exit_code == 0


def test_unreadable_predictions_json_error(tmp_path: Path) -> None:
    bad = tmp_path / "res.json"
    bad.write_text('{"detections": 1}')
    res = runner.invoke(app, ["evaluate", str(GT), str(bad), "--json"])
    assert res.exit_code == ExitCode.INPUT
    err = json.loads(res.stdout)["error"]
    assert "list of detections" in err["message"] and err["code"] == ExitCode.INPUT
    res = runner.invoke(app, ["evaluate", str(GT), str(tmp_path / "missing.json")])
    assert res.exit_code == ExitCode.INPUT
    assert "no such file" in res.stderr


def test_usage_errors(results_file: Path) -> None:
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--iou-type", "keypoints"])
    assert res.exit_code == ExitCode.USAGE
    res = runner.invoke(app, ["evaluate", str(GT), str(results_file), "--split", "nope", "--json"])
    assert res.exit_code == ExitCode.USAGE
    assert "splits: train, val, test" in json.loads(res.stdout)["error"]["message"]


def test_dropped_predictions_exit_1(tmp_path: Path) -> None:
    gt = dataprep.read(GT)
    pred = gt.annotations.assign(score=np.nan)
    pred.loc[pred.index[0], "score"] = 0.5
    # a COCO dataset of predictions where all but one score is missing: NaN scores are dropped and counted
    out = tmp_path / "pred"
    dataprep.write(gt.replace(annotations=pred), out, "coco", images="none")
    res = runner.invoke(app, ["evaluate", str(GT), str(out), "--json"])
    assert res.exit_code == ExitCode.FINDINGS, res.output
    codes = [f["code"] for f in json.loads(res.stdout)["findings"]]
    assert "prediction-nan-score" in codes
