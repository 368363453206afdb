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



def _json_error(result, code: int, *, command: str = "") -> dict:
    assert result.exit_code == code, (result.exit_code, result.output)
    data = json.loads(result.stdout)
    ERROR_SCHEMA.validate(data)  # every command, encode and anchors included (issue 7 loose end)
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


def _coco(tmp_path: Path, images: list, annotations: list, categories: list | None = None, name="c.json") -> Path:
    doc = {"images": images, "annotations": annotations, "categories": categories or [{"id": 1, "name": "a"}]}
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _image(tmp_path: Path, name: str = "a.png", size: int = 8) -> None:
    from conftest import make_image

    make_image(tmp_path / name, size, size)


@pytest.mark.parametrize("command", ["info", "validate", "convert"])
def test_deeply_nested_coco_is_input_error(tmp_path: Path, command: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"images": ' + "[" * 5000 + "]" * 5000 + ', "annotations": [], "categories": []}')
    args = [command, str(path), *([str(tmp_path / "o"), "--to", "yolo"] if command == "convert" else []), "--json"]
    result = runner.invoke(app, args)
    if command == "validate" and result.exit_code == 1:  # validate may report it as a finding
        assert json.loads(result.stdout)["counts"]["error"] >= 1
        return
    _json_error(result, ExitCode.INPUT)


def test_destination_parent_is_a_file(tmp_path: Path, detection: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = runner.invoke(app, ["convert", str(detection), str(tmp_path / "f" / "out"), "--to", "yolo", "--json"])
    assert "parent" in _json_error(result, ExitCode.OUTPUT)["message"]


def test_dangling_symlink_destination_refused_and_no_temp_left(tmp_path: Path, detection: Path) -> None:
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(
            app, ["convert", str(detection), str(tmp_path / "out"), "--to", "yolo", "--json", *extra]
        )
        _json_error(result, ExitCode.OUTPUT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_image_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    path = _coco(tmp_path, [{"id": 1, "file_name": "loop.png"}], [])
    for command in ("info", "convert"):
        extra = [str(tmp_path / "o"), "--to", "yolo"] if command == "convert" else []
        result = runner.invoke(app, [command, str(path), *extra, "--json"])
        assert result.exit_code in (0, ExitCode.INPUT), result.output
        assert "Traceback" not in result.output
        json.loads(result.stdout)


def test_nul_in_file_name(tmp_path: Path) -> None:
    path = _coco(tmp_path, [{"id": 1, "file_name": "a\u0000.png", "width": 8, "height": 8}], [])
    result = runner.invoke(app, ["convert", str(path), str(tmp_path / "o"), "--to", "yolo", "--json"])
    assert "unsafe" in _json_error(result, ExitCode.INPUT)["message"]


@pytest.mark.parametrize("width", [1e30, 1e308, float("inf"), -5, 0])
def test_huge_or_bad_coco_width_refused(tmp_path: Path, width: float) -> None:
    _image(tmp_path)
    image = {"id": 1, "file_name": "a.png", "width": width, "height": 8}
    path = _coco(tmp_path, [image], [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}])
    path.write_text(path.read_text().replace("Infinity", "1e999"))
    for command in ("info", "convert"):
        extra = [str(tmp_path / "o"), "--to", "yolo"] if command == "convert" else []
        result = runner.invoke(app, [command, str(path), *extra, "--json"])
        assert "images[0].width" in _json_error(result, ExitCode.INPUT)["message"]
    # collecting skips the image; with nothing left, convert still fails (never an empty success)
    result = runner.invoke(app, ["convert", str(path), str(tmp_path / "o"), "--to", "yolo", "--on-error", "collect"])
    assert result.exit_code == ExitCode.INPUT and "every record was skipped" in result.stderr


@pytest.mark.parametrize("bbox", [[1, 1, 1e308, 2], [1, 1, 2, "Infinity"], [-1e300, 1, 2, 2]])
def test_non_finite_or_overflowing_box_never_written(tmp_path: Path, bbox: list) -> None:
    _image(tmp_path)
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": bbox}]  # fmt: skip
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], anns)
    path.write_text(path.read_text().replace('"Infinity"', "1e999"))
    for to in ("yolo", "coco", "voc"):
        result = runner.invoke(app, ["convert", str(path), str(tmp_path / to), "--to", to, "--json"])
        assert "annotation 2" in _json_error(result, ExitCode.INPUT)["message"]
        args = ["convert", str(path), str(tmp_path / to), "--to", to, "--json", "--on-error", "collect"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["written"]["annotations"] == 1 and data["findings"][0]["record"].startswith("annotation 2")
        text = " ".join(p.read_text() for p in (tmp_path / to).rglob("*") if p.suffix in (".txt", ".json", ".xml"))
        assert "inf" not in text and "null" not in text.replace('"segmentation": null', "")


def test_huge_voc_width(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    _image(root / "JPEGImages", "a.jpg")
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>1e23</width><height>8</height><depth>3</depth></size>"
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>3</ymax></bndbox></object>"
        "</annotation>"
    )
    for command in ("info", "convert"):
        extra = [str(tmp_path / "o"), "--to", "coco"] if command == "convert" else []
        result = runner.invoke(app, [command, str(root), *extra, "--json"])
        assert "1e23" in _json_error(result, ExitCode.INPUT)["message"]


@pytest.mark.parametrize("to", ["yolo", "voc", "coco", "csv"])
def test_lone_surrogate_in_category_name(tmp_path: Path, to: str) -> None:
    _image(tmp_path)
    path = tmp_path / "c.json"
    path.write_text(
        '{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], '
        '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}], '
        '"categories": [{"id": 1, "name": "bad\\ud800"}]}'
    )
    result = runner.invoke(app, ["info", str(path), "--json"])
    assert result.exit_code in (0, ExitCode.INPUT) and "Traceback" not in result.output
    json.loads(result.stdout)
    result = runner.invoke(app, ["convert", str(path), str(tmp_path / "o"), "--to", to, "--json"])
    assert result.exit_code in (0, ExitCode.INPUT), result.output
    json.loads(result.stdout)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code in (0, 1, ExitCode.INPUT), result.output
    json.loads(result.stdout)


def test_report_into_missing_folder_refused_before_writing(tmp_path: Path, detection: Path) -> None:
    report = tmp_path / "missing" / "r.json"
    result = runner.invoke(
        app, ["convert", str(detection), str(tmp_path / "o"), "--to", "yolo", "--report", str(report)]
    )
    assert result.exit_code == ExitCode.OUTPUT and not (tmp_path / "o").exists()
    result = runner.invoke(app, ["validate", str(detection), "--junit", str(report), "--json"])
    _json_error(result, ExitCode.OUTPUT)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_coco_from_a_fifo_or_device(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "f.json"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    for command in ("info", "validate"):
        result = runner.invoke(app, [command, str(path), "--from", "coco", "--json"])
        _json_error(result, ExitCode.INPUT)


def test_internal_error_is_exit_3_and_traceback_only_with_debug(tmp_path: Path, monkeypatch) -> None:
    import dataprep.formats as formats

    def boom(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(formats, "load", boom)  # stands for any future bug
    result = runner.invoke(app, ["info", str(tmp_path), "--json"])
    error = _json_error(result, ExitCode.INPUT)
    assert "internal error" in error["message"] and "please report" in error["message"]
    result = runner.invoke(app, ["--debug", "info", str(tmp_path)])
    assert result.exit_code == ExitCode.INPUT and "Traceback" in result.stderr


def test_usage_error_under_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", str(tmp_path), "--no-such-flag", "--json"])
    assert "no-such-flag" in _json_error(result, ExitCode.USAGE)["message"]


def test_two_runs_to_one_new_destination_second_refused(tmp_path: Path, detection: Path) -> None:
    from dataprep.files import atomic_output_dir

    dest = tmp_path / "o"
    with pytest.raises(dataprep.errors.OutputError, match="appeared"), atomic_output_dir(dest) as tmp:
        (tmp / "mine").write_text("1")
        dest.mkdir()  # the other run finished first
        (dest / "theirs").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
