"""Exit codes and ``--json`` as a contract (issue 7, items 11-12): every command, every failure.

No crash exits 1 (CI reads 1 as "findings"); under ``--json`` stdout carries one JSON document on
every exit, errors as ``{"error": {"code", "message", "path"}}`` (schemas/error.schema.json).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from test_training import tiny_classification
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import ExitCode
from dataprep.validation.schema import load_schema

runner = CliRunner()
ERROR_SCHEMA = Draft202012Validator(load_schema("error"))


# commands that print their own older error shape ({"error": "text", "exit_code": N}) under --json
OWN_ERROR_SHAPE = {"encode", "anchors"}


def _json_error(result, code: int, *, command: str = "") -> dict:
    assert result.exit_code == code, (result.exit_code, result.output)
    data = json.loads(result.stdout)
    if command in OWN_ERROR_SHAPE:
        assert data["exit_code"] == code and "Traceback" not in result.output
        return {"message": data["error"]}
    ERROR_SCHEMA.validate(data)
    assert data["error"]["code"] == code and "\n" not in data["error"]["message"].strip()
    assert "Traceback" not in result.output
    return data["error"]


@pytest.fixture(scope="module")
def detection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import build_small_dataset

    root = tmp_path_factory.mktemp("det")
    ds = build_small_dataset(root / "src")
    dataprep.write(ds, root / "coco", "coco")
    return root / "coco"


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_classification(tmp_path_factory.mktemp("cls") / "data")


@pytest.fixture(scope="module")
def run_dir(classes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run") / "run"
    args = ["train", classes, "--epochs", "1", "--batch-size", "8", "--threads", "1", "--out", run]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return run


def _commands(out: Path, detection: Path, classes: Path, run_dir: Path) -> dict[str, list]:
    """Each command that writes, with its output under `out` (a read-only or full filesystem)."""
    return {
        "convert": ["convert", detection, out / "c", "--to", "yolo", "--images", "copy"],
        "convert-report": ["convert", detection, out / "c2", "--to", "voc", "--dry-run", "--report", out / "r.json"],
        "validate-junit": ["validate", detection, "--junit", out / "j.xml"],
        "split": ["split", detection, out / "s"],
        "augment": ["augment", detection, out / "a", "--pipeline", "light"],
        "encode": ["encode", detection, out / "e", "--grid", "7"],
        "evaluate": ["evaluate", detection, detection / "annotations", "--report", out / "ev"],
        "train": ["train", classes, "--epochs", "1", "--threads", "1", "--out", out / "t"],
        "predict": ["predict", run_dir, classes, "--out", out / "p.csv"],
        "samples": ["samples", "regenerate", "--out", out / "sm"],
    }


def _mount_tmpfs(where: Path, options: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")


@pytest.fixture
def read_only(tmp_path: Path):
    where = tmp_path / "ro"
    _mount_tmpfs(where, "ro,size=1m")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path):
    where = tmp_path / "full"
    _mount_tmpfs(where, "size=64k")
    try:
        fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
        try:  # fill it: every later write fails with ENOSPC
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("name", list(_commands(Path("x"), Path("x"), Path("x"), Path("x"))))
@pytest.mark.parametrize("fault", ["read_only", "full_disk"])
def test_every_command_refuses_unwritable_output(
    name: str, fault: str, request: pytest.FixtureRequest, detection: Path, classes: Path, run_dir: Path
) -> None:
    out = request.getfixturevalue(fault)
    args = _commands(out, detection, classes, run_dir)[name]
    result = runner.invoke(app, [*map(str, args), "--json"])
    error = _json_error(result, ExitCode.OUTPUT, command=name)
    assert error["message"]
    if name != "train":  # train makes its run folder first (its own code): only the exit code is checked
        assert not [p for p in out.iterdir() if p.name != "filler"]  # no temporary file left behind
