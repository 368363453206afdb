"""``dataprep demo``: the README's main job runs end to end on the bundled samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from typer.testing import CliRunner

from dataprep.cli import app


def test_demo_runs_on_the_bundled_samples(tmp_path: Path) -> None:
    samples = REPO / "samples"
    if not (samples / "detection" / "coco").is_dir():
        pytest.skip("samples/ not present")
    args = ["--epochs", "1", "--detector-seconds", "1", "--threads", "1"]  # the full run takes ~2 min: keep CI short
    result = CliRunner().invoke(app, ["demo", "--samples", str(samples), "--out", str(tmp_path / "demo"), *args])
    assert result.exit_code == 0, result.output
    assert "Classes" in result.stdout  # the sample's info
    assert "coco -> yolo" in result.stdout and "voc -> coco" in result.stdout
    assert "Validation of the samples" in result.stdout
    for name in ("yolo", "voc", "coco", "csv"):
        assert (tmp_path / "demo" / name).is_dir()
    # validate -> split -> train -> evaluate -> HTML report, and the demo says where the reports are
    assert "train 210, val 60, test 30" in result.stdout
    assert "Trained and evaluated on the test split" in result.stdout
    for run in ("train-lenet", "train-grid-detector"):
        report = tmp_path / "demo" / run / "report" / "index.html"
        assert report.is_file()
        assert str(report) in result.stdout
    assert (tmp_path / "demo" / "train-lenet" / "weights" / "best.pt").is_file()
