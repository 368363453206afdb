"""``dataprep augment`` through the CLI: exit codes, --json (also on errors), messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import build_small_dataset
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import ExitCode

runner = CliRunner()


@pytest.fixture
def coco_dir(tmp_path: Path) -> Path:
    dataprep.write(build_small_dataset(tmp_path / "raw"), tmp_path / "coco", "coco")
    return tmp_path / "coco"


def test_augment_json_report(coco_dir: Path, tmp_path: Path) -> None:
    args = ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "detection", "--copies", "2", "--json"]
    result = runner.invoke(app, [*args, "--to", "yolo", "--seed", "5", "--preview", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["copies_written"] == 4 and data["format"] == "yolo" and data["splits"] == ["train"]
    assert data["written"]["images"] == 7
    assert (tmp_path / "o" / "data.yaml").is_file() and (tmp_path / "p.png").is_file()


def test_augment_human_output(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "light"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "clipped at the border" in result.stdout


def test_bad_pipeline_is_a_usage_error_with_json(coco_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("transforms:\n  - {type: rotate, degrees: 400}\n")
    args = ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", str(tmp_path / "p.yaml"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE
    data = json.loads(result.stdout)
    assert data["error"]["code"] == 2 and set(data["error"]) == {"code", "message", "path"}  # the shared shape
    assert "transforms[0].degrees" in data["error"]["message"] and "[-180, 180]" in data["error"]["message"]
    assert "transforms[0].degrees" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_preset_and_bad_split(coco_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "heavy"])
    assert result.exit_code == ExitCode.USAGE and "presets" in result.stderr
    args = ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "light", "--splits", "train,nope"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE and "nope" in result.stderr


def test_output_exists_and_missing_input(coco_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    result = runner.invoke(app, ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "light"])
    assert result.exit_code == ExitCode.OUTPUT and "--overwrite" in result.stderr
    result = runner.invoke(app, ["augment", str(tmp_path / "nope"), str(tmp_path / "x"), "--pipeline", "light"])
    assert result.exit_code == ExitCode.INPUT


def test_unreadable_image_exits_1_and_writes_the_rest(coco_dir: Path, tmp_path: Path) -> None:
    bad = next((coco_dir / "images").rglob("*.png"))
    bad.write_bytes(b"")
    result = runner.invoke(app, ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "light", "--json"])
    assert result.exit_code == ExitCode.FINDINGS
    data = json.loads(result.stdout)
    assert data["findings"][0]["code"] == "image-unreadable" and data["copies_written"] == 1
    assert (tmp_path / "o" / "annotations").is_dir()


def test_backend_option(coco_dir: Path, tmp_path: Path) -> None:
    args = ["augment", str(coco_dir), str(tmp_path / "o"), "--pipeline", "light", "--backend", "cuda"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE and "pillow, opencv" in result.stderr
    pytest.importorskip("cv2")
    result = runner.invoke(app, [*args[:-1], "opencv", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pipeline"]["backend"] == "opencv"
