"""``dataprep convert`` and ``dataprep info`` through the CLI: exit codes, messages, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import ExitCode

runner = CliRunner()


@pytest.fixture
def coco_dir(small_dataset: dataprep.Dataset, tmp_path: Path) -> Path:
    dataprep.write(small_dataset, tmp_path / "coco", "coco")
    return tmp_path / "coco"


def test_convert_writes_and_reports_json(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "y"), "--to", "yolo", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source_format"] == "coco"
    assert data["written"]["images"] == 3
    assert data["written"]["annotations"] == 4
    # sparse category ids 3, 7 cannot survive YOLO's 0..C-1 class indices: said, not hidden
    assert any(loss["unit"] == "category" for loss in data["written"]["losses"])
    assert (tmp_path / "y" / "data.yaml").is_file()


def test_convert_human_output_lists_losses(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "v"), "--to", "voc"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout
    assert "coordinates-rounded" in result.stdout  # the fixture has a 5.5 / 6.25 box


def test_convert_refuses_existing_output(coco_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    result = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "exists"), "--to", "yolo"])
    assert result.exit_code == ExitCode.OUTPUT
    assert "--overwrite" in result.stderr
    ok = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "exists"), "--to", "yolo", "--overwrite"])
    assert ok.exit_code == 0, ok.output


def test_convert_refuses_to_replace_its_input(coco_dir: Path) -> None:
    result = runner.invoke(app, ["convert", str(coco_dir), str(coco_dir), "--to", "yolo", "--overwrite"])
    assert result.exit_code == ExitCode.OUTPUT
    assert (coco_dir / "annotations").is_dir()


def test_convert_missing_input_names_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(tmp_path / "nope"), str(tmp_path / "o"), "--to", "coco"])
    assert result.exit_code == ExitCode.INPUT
    assert "nope" in result.stderr


def test_convert_usage_error(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "o"), "--to", "coco", "--layout", "darknet"])
    assert result.exit_code == ExitCode.USAGE
    bad = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "o"), "--to", "nope"])
    assert bad.exit_code == ExitCode.USAGE


def test_dry_run_writes_nothing(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(coco_dir), str(tmp_path / "o"), "--to", "voc", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True
    assert {loss["code"] for loss in data["losses"]} >= {"coordinates-rounded"}
    assert not (tmp_path / "o").exists()


def test_convert_refuses_escaping_file_names(tmp_path: Path) -> None:
    doc = {
        "images": [{"id": 1, "file_name": "../../outside.jpg", "width": 4, "height": 4}],
        "annotations": [],
        "categories": [{"id": 1, "name": "a"}],
    }
    src = tmp_path / "labels.json"
    src.write_text(json.dumps(doc))
    result = runner.invoke(app, ["convert", str(src), str(tmp_path / "o"), "--to", "yolo", "--images", "none"])
    assert result.exit_code in (ExitCode.INPUT, ExitCode.OUTPUT)
    assert "outside.jpg" in result.stderr
    assert not (tmp_path / "o").exists()
    assert not (tmp_path.parent / "outside.txt").exists()


def test_info_json_and_table(coco_dir: Path) -> None:
    result = runner.invoke(app, ["info", str(coco_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["images"] == 3
    assert data["totals"]["boxes"] == 4
    assert data["totals"]["images_without_labels"] == 1
    assert {c["name"]: c["annotations"] for c in data["classes"]} == {"cat": 2, "dog": 2}
    human = runner.invoke(app, ["info", str(coco_dir)])
    assert human.exit_code == 0
    assert "Classes" in human.stdout and "dog" in human.stdout
