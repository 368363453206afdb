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
    result = CliRunner().invoke(app, ["demo", "--samples", str(samples), "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "Classes" in result.stdout  # the sample's info
    assert "coco -> yolo" in result.stdout and "voc -> coco" in result.stdout
    assert "Validation of the samples" in result.stdout
    for name in ("yolo", "voc", "coco", "csv"):
        assert (tmp_path / "demo" / name).is_dir()
