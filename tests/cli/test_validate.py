"""``dataprep validate``: exit codes, table, --json, --junit, --github, --diff, manifest."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner
from validation.validation_builders import write_coco

from dataprep.cli import app
from dataprep.validation.schema import load_schema

runner = CliRunner()

PLANTED = {
    ("box-outside-image", "annotations/instances_train.json"),
    ("invalid-record", "annotations/instances_train.json"),
    ("dangling-category", "annotations/instances_train.json"),
    ("image-missing", "images/val/d e.jpg"),
    ("box-zero-area", "annotations/instances_val.json"),
}


def invoke(*args: str):
    return runner.invoke(app, ["validate", *map(str, args)])


def test_clean_dataset_passes(tmp_path: Path) -> None:
    result = invoke(write_coco(tmp_path / "clean"))
    assert result.exit_code == 0, result.output
    assert "passed: 0 errors, 0 warnings, 0 info" in result.output


def test_planted_errors_table_and_exit_code(tmp_path: Path) -> None:
    result = invoke(write_coco(tmp_path / "bad", plant=True))
    assert result.exit_code == 1
    for code, _ in PLANTED:
        assert code in result.output
    assert "failed: 5 errors" in result.output


def test_planted_errors_json(tmp_path: Path) -> None:
    result = invoke(write_coco(tmp_path / "bad", plant=True), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(Draft202012Validator(load_schema("report")).iter_errors(data)) == []
    assert {(f["code"], f["file"]) for f in data["findings"]} == PLANTED
    invalid = next(f for f in data["findings"] if f["code"] == "invalid-record")
    assert invalid["record"] == "annotations[2].bbox" and "'oops'" in invalid["message"]
    outside = next(f for f in data["findings"] if f["code"] == "box-outside-image")
    assert outside["annotation_id"] == 2 and outside["image_id"] == 1


def test_planted_errors_junit_and_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_coco(tmp_path / "bad", plant=True)
    junit = tmp_path / "report.xml"
    monkeypatch.chdir(tmp_path)
    result = invoke("bad", "--github", "--junit", junit)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "::error file=bad/images/val/d e.jpg,title=image-missing::image file not found." in "\n".join(lines)
    assert any(
        line.startswith("::error file=bad/annotations/instances_train.json,title=invalid-record::annotations[2].bbox:")
        for line in lines
    )
    assert lines[-1] == "::notice title=dataprep validate::5 errors, 0 warnings, 0 info"
    root = ET.parse(junit).getroot()
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == {code for code, _ in PLANTED}
    assert data.exists()


def test_max_findings_caps_output_not_exit(tmp_path: Path) -> None:
    result = invoke(write_coco(tmp_path / "bad", plant=True), "--json", "--max-findings", "2")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["findings_shown"] == 2 and data["counts"]["error"] == 5
    result = invoke(tmp_path / "bad", "--max-findings", "1")
    assert "not listed" in result.output and "failed: 5 errors" in result.output


def test_select_ignore_and_severity(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "bad", plant=True)
    result = invoke(path, "--select", "box", "--json")
    assert {f["code"] for f in json.loads(result.stdout)["findings"]} == {"box-outside-image", "box-zero-area"}
    result = invoke(path, "--ignore", "box,image,dangling,invalid-record")
    assert result.exit_code == 0, result.output
    result = invoke(path, "--select", "box", "--severity", "box=warning")
    assert result.exit_code == 0 and "2 warnings" in result.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "clean")
    result = invoke(path, "--select", "box-outsid")
    assert result.exit_code == 2 and "unknown check code 'box-outsid'" in result.output
    assert invoke(path, "--json", "--github").exit_code == 2
    assert invoke(path, "--threshold", "min_box_side").exit_code == 2
    assert invoke(path, "--max-findings", "-1").exit_code == 2


def test_unreadable_input_exit_3(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nowhere")
    assert result.exit_code == 3 and "no such file or directory" in result.output
    path = write_coco(tmp_path / "trunc")
    target = path / "annotations/instances_train.json"
    target.write_bytes(target.read_bytes()[:150])
    result = invoke(path)
    assert result.exit_code == 3
    assert "instances_train.json" in result.output and "line" in result.output
    assert "Traceback" not in result.output


def test_help_documents_exit_codes() -> None:
    result = runner.invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "0 ok; 1 findings at error severity; 2 usage error; 3 input missing or unreadable" in text


def test_manifest_beside_the_dataset(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "clean")
    (path / "dataprep.yaml").write_text("classes: [cat, dog, bird, horse]\nsplits: {train: 0.5, val: 0.5}\n")
    result = invoke(path, "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    (finding,) = data["findings"]
    assert finding["code"] == "manifest-mismatch" and "'horse'" in finding["message"]
    assert any(n.startswith("manifest: ") for n in data["notes"])
    (path / "dataprep.yaml").write_text("severity: {box-tiny: loud}\n")
    result = invoke(path)
    assert result.exit_code == 3 and "dataprep.yaml: severity.box-tiny: 'loud' is not one of" in result.output


def test_diff_against_a_folder(tmp_path: Path) -> None:
    base = write_coco(tmp_path / "base")
    head = write_coco(tmp_path / "head", plant=True)
    result = invoke(head, "--diff", base, "--json", "--select", "box-tiny")
    diff = json.loads(result.stdout)["diff"]
    classes = {c["name"]: c for c in diff["classes"]}
    # planted: cat box moved (+1 -1), bird unreadable (-1), dog -> id 42 (-1 dog, +1 <id 42>), bird zero-width
    assert classes["cat"]["added"] == 0 and classes["bird"]["removed"] == 2
    assert classes["<id 42>"] == {"name": "<id 42>", "base": 0, "head": 1, "added": 1, "removed": 0}
    result = invoke(head, "--diff", base, "--select", "box-tiny")
    assert "Change from" in result.output


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_diff_against_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    data = write_coco(repo / "data")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "base")
    target = data / "annotations/instances_val.json"
    doc = json.loads(target.read_text())
    doc["annotations"].append({**doc["annotations"][0], "id": 99, "bbox": [0, 0, 5, 5]})
    target.write_text(json.dumps(doc))
    result = invoke(data, "--diff", "HEAD", "--json")
    assert result.exit_code == 0, result.output
    diff = json.loads(result.stdout)["diff"]
    assert diff["base"] == "HEAD"
    added = {c["name"]: c["added"] for c in diff["classes"]}
    assert added == {"bird": 0, "cat": 0, "dog": 1}
    result = invoke(data, "--diff", "no-such-rev")
    assert result.exit_code == 3 and "no-such-rev" in result.output


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_threshold_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """Issue 7, item 21: min_box_side=nan compared false everywhere and disabled the check."""
    result = invoke(write_coco(tmp_path / "d"), "--threshold", f"min_box_side={value}", "--json")
    assert result.exit_code == 2
    assert "finite" in json.loads(result.stdout)["error"]["message"]
