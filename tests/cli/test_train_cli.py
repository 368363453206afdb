"""``dataprep train`` / ``dataprep predict`` through the CLI: exit codes, --json (errors too), predict -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_training import tiny_classification
from typer.testing import CliRunner

from dataprep.cli import app


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_classification(tmp_path_factory.mktemp("cli") / "data")


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_train_json_then_predict_then_evaluate(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = _run("train", data, "--model", "lenet", "--epochs", "1", "--batch-size", "8", "--threads", "1",
                  "--out", run, "--json", "--export", "torchscript")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert 0 <= summary["test"]["accuracy"] <= 1 and summary["threads"] == 1
    assert summary["export"]["max_abs_diff"] <= 1e-4
    pred = tmp_path / "pred.csv"
    result = _run("predict", run, data, "--out", pred, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["predictions"] == 9
    result = _run("evaluate", data, pred, "--split", "test", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(summary["test"]["accuracy"])


def test_human_output_names_the_report(data: Path, tmp_path: Path) -> None:
    result = _run("train", data, "--epochs", "1", "--threads", "1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "report:" in result.stdout and "index.html" in result.stdout


def test_no_split_exits_2_with_json_error(tmp_path: Path) -> None:
    flat = tiny_classification(tmp_path / "flat", splits=False)
    result = _run("train", flat, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert "dataprep split" in error["message"] and "--split-ratios 70,20,10" in error["message"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--epochs", "0"], 2),
        (["--model", "no-such-net"], 2),
        (["--model", "grid-detector"], 2),
        (["--split-ratios", "70,20"], 2),
    ],
)
def test_bad_options_exit_2(data: Path, tmp_path: Path, args: list[str], code: int) -> None:
    result = _run("train", data, "--out", tmp_path / "run", "--json", *args)
    assert result.exit_code == code, result.output
    assert "error" in json.loads(result.stdout)


def test_existing_run_is_refused_and_missing_data_is_input_error(data: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    assert _run("train", data, "--out", tmp_path / "run", "--json").exit_code == 4
    assert _run("train", tmp_path / "nowhere", "--out", tmp_path / "r2", "--json").exit_code == 3
    assert _run("predict", tmp_path / "nowhere", data, "--out", tmp_path / "p.csv").exit_code == 3


def test_samples_detection_generates_larger_sets(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = _run("samples", "detection", tmp_path / "scenes", "--images", "12", "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["written"]
    assert written["images"] == 12
    from dataprep.formats import read

    assert set(read(tmp_path / "scenes").splits) == {"train", "val", "test"}
    assert _run("samples", "detection", tmp_path / "few", "--images", "5").exit_code == 2
    assert _run("samples", "detection", tmp_path / "scenes", "--images", "12").exit_code == 4
