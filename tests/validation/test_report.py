"""validate() options and the report's renderings: JSON (against its schema), JUnit, GitHub."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from validation_builders import clean_dataset, set_box

from dataprep.errors import ExitCode, UsageError
from dataprep.validation import CHECKS, Report, validate
from dataprep.validation.schema import load_schema


@pytest.fixture
def broken(tmp_path: Path):
    """Clean dataset with one error (box outside), one warning (tiny box) and a missing image."""
    root = tmp_path / "data"

    def plant(anns: pd.DataFrame) -> pd.DataFrame:
        anns = set_box(2, [20, 10, 70, 48])(anns)
        return set_box(8, [4, 4, 5, 9])(anns)

    ds = clean_dataset(root, annotations=plant)
    (root / "val/c.jpg").unlink()
    return ds


def _schema_errors(data: dict) -> list[str]:
    validator = Draft202012Validator(load_schema("report"))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_json_matches_report_schema(broken) -> None:
    report = validate(broken, format="coco", diff=broken)
    data = json.loads(report.to_json())
    assert _schema_errors(data) == []
    assert data["exit_code"] == 1 and data["counts"] == {"error": 2, "warning": 1, "info": 0}
    assert [f["code"] for f in data["findings"]] == ["box-outside-image", "image-missing", "box-tiny"]
    assert data["summary"]["classes"][0] == {"category_id": 1, "name": "cat", "annotations": 3, "images": 3}
    assert {c["code"] for c in data["checks"]} >= set(CHECKS)


def test_max_findings_caps_listing_not_counting(broken) -> None:
    report = validate(broken, format="coco")
    data = report.to_dict(max_findings=1)
    assert data["findings_shown"] == 1 and len(data["findings"]) == 1
    assert data["counts"]["error"] == 2 and report.exit_code == ExitCode.FINDINGS
    assert _schema_errors(json.loads(report.to_json(max_findings=0))) == []


def test_junit_one_testcase_per_check(broken) -> None:
    report = validate(broken, format="coco", ignore=["class"])
    root = ET.fromstring(report.to_junit())
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == set(CHECKS)
    failure = cases["box-outside-image"].find("failure")
    assert failure is not None and "1 error finding" in failure.get("message")
    assert "annotation 2" in failure.text
    assert cases["box-tiny"].find("failure") is None and "box is 1x5 px" in cases["box-tiny"].find("system-out").text
    assert cases["class-imbalance"].find("skipped") is not None
    assert cases["box-inverted"].find("failure") is None and len(cases["box-inverted"]) == 0
    suite = root.find("testsuite")
    assert suite.get("failures") == "2" and suite.get("tests") == str(len(CHECKS))


def test_junit_survives_control_characters_and_caps(broken) -> None:
    report = validate(broken, format="coco")
    report.findings.loc[0, "message"] = "bad \x00\x1b[31m <&> \ud800 text"
    root = ET.fromstring(report.to_junit(max_findings=1))
    text = "".join(root.itertext())
    assert "<&>" in text and "\x00" not in text
    assert "1 more not listed" in text  # image-missing was cut by max_findings=1


def test_github_annotations(broken, tmp_path: Path) -> None:
    report = validate(broken, format="coco")
    out = report.to_github(cwd=tmp_path).splitlines()
    assert out[0].startswith("::error title=box-outside-image::annotations[id=2]: box (20, 10, 70, 48) reaches")
    assert out[1].startswith("::error file=data/val/c.jpg,title=image-missing::image file not found.")
    assert any(line.startswith("::warning title=box-tiny::") for line in out)
    assert out[-1] == "::notice title=dataprep validate::2 errors, 1 warnings, 0 info"
    capped = report.to_github(max_findings=1, cwd=tmp_path).splitlines()
    assert len(capped) == 2 and capped[-1].endswith("(2 not shown: --max-findings)")


def test_github_escapes_and_lines() -> None:
    frame = pd.DataFrame(
        {
            "code": ["box-outside-image"],
            "severity": ["error"],
            "message": ["100% wrong\nsecond line"],
            "image_id": pd.array([1], dtype="Int64"),
            "annotation_id": pd.array([2], dtype="Int64"),
            "file": ["labels/a,b:c.txt"],
            "record": [None],
            "line": pd.array([7], dtype="Int64"),
            "hint": [None],
        }
    )
    text = Report(frame, [], {}).to_github(cwd="/")
    expected = "::error file=labels/a%2Cb%3Ac.txt,line=7,title=box-outside-image::100%25 wrong%0Asecond line"
    assert text.splitlines()[0] == expected


# -- validate() options ---------------------------------------------------------------------------


def test_select_and_ignore_by_code_and_prefix(broken) -> None:
    assert validate(broken, format="coco", select=["box"]).codes() == ["box-outside-image", "box-tiny"]
    assert validate(broken, format="coco", select=["box"], ignore=["box-tiny"]).codes() == ["box-outside-image"]
    assert validate(broken, format="coco", ignore=["image-missing,box-tiny"]).codes() == ["box-outside-image"]
    report = validate(broken, format="coco", select=["box-tiny"])
    status = {c["code"]: c["status"] for c in report.checks}
    assert status["box-tiny"] == "failed" and status["box-outside-image"] == "skipped"
    assert report.exit_code == ExitCode.OK


def test_unknown_code_is_a_usage_error(broken) -> None:
    with pytest.raises(UsageError, match="unknown check code 'box-outsde'"):
        validate(broken, ignore=["box-outsde"])
    with pytest.raises(UsageError, match="fatal"):
        validate(broken, severity={"box-tiny": "fatal"})
    with pytest.raises(UsageError, match="unknown thresholds"):
        validate(broken, thresholds={"min_side": 3})


def test_severity_overrides_change_exit_code(broken) -> None:
    report = validate(broken, format="coco", severity={"box-outside-image": "warning", "image": "info"})
    assert report.counts == {"error": 0, "warning": 2, "info": 1}
    assert report.exit_code == ExitCode.OK
    assert {c["code"]: c["severity"] for c in report.checks}["box-outside-image"] == "warning"


def test_manifest_dict_settings_and_cli_precedence(broken) -> None:
    manifest = {"ignore": ["box-tiny"], "severity": {"image-missing": "warning"}, "thresholds": {"min_box_side": 1}}
    report = validate(broken, format="coco", manifest=manifest)
    assert report.codes() == ["box-outside-image", "image-missing"]
    assert report.counts["warning"] == 1
    report = validate(broken, format="coco", manifest=manifest, thresholds={"min_box_side": 2}, ignore=["image"])
    assert report.codes() == ["box-outside-image"]  # box-tiny stays ignored (manifest), image added
    with pytest.raises(UsageError, match="manifest"):
        validate(broken, manifest={"severity": {"box-tiny": "loud"}})


def test_images_false_skips_file_checks(broken) -> None:
    report = validate(broken, format="coco", images=False)
    assert "image-missing" not in report.codes()
    status = {c["code"]: (c["status"], c["skip_reason"]) for c in report.checks}
    assert status["image-missing"] == ("skipped", "image files not opened (--no-images)")
    assert any("--no-images" in n for n in report.notes)


def test_diff_per_class(tmp_path: Path) -> None:
    base = clean_dataset(tmp_path / "data")

    def change(anns: pd.DataFrame) -> pd.DataFrame:
        anns = anns[anns["annotation_id"] != 3].copy()  # one bird removed
        anns = set_box(1, [0, 0, 11, 12])(anns)  # a cat moved: one removed, one added
        extra = anns.iloc[[0]].copy()
        extra["annotation_id"] = 50
        extra["category_id"] = 2  # a dog added
        return pd.concat([anns, extra])

    head = clean_dataset(tmp_path / "data", annotations=change)
    report = validate(head, format="coco", diff=base, images=False)
    classes = {c["name"]: c for c in report.diff["classes"]}
    assert classes["bird"] == {"name": "bird", "base": 2, "head": 1, "added": 0, "removed": 1}
    assert classes["cat"] == {"name": "cat", "base": 3, "head": 3, "added": 1, "removed": 1}
    assert classes["dog"] == {"name": "dog", "base": 3, "head": 4, "added": 1, "removed": 0}
    assert report.diff["images_added"] == 0 == report.diff["images_removed"]
    assert _schema_errors(report.to_dict()) == []


def test_findings_frame_dtypes(broken) -> None:
    frame = validate(broken, format="coco").findings
    assert str(frame["image_id"].dtype) == "Int64" and str(frame["line"].dtype) == "Int64"
    assert frame["severity"].isin(["error", "warning", "info"]).all()
    assert np.array_equal(frame.index, np.arange(len(frame)))


def test_every_code_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [code for code in CHECKS if f"`{code}`" not in text]
    assert missing == []
