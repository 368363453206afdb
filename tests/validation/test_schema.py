"""schemas/: the schemas are valid, accept what they should, and reject with a pointer and a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from dataprep.errors import InputError
from dataprep.validation import schema


@pytest.mark.parametrize("name", sorted(schema.SCHEMAS))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(schema.load_schema(name))


def _coco() -> dict:
    return {
        "info": {"year": 2024},
        "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": 0},
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 1, 1],
                "iscrowd": 1,
                "segmentation": {"size": [3, 4], "counts": [0, 12]},
            },
            {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]]},
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}],
    }


def test_coco_schema_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(_coco()))
    assert schema.check_coco_file(path) == []


def test_coco_schema_reports_pointer_and_hint(tmp_path: Path) -> None:
    doc = _coco()
    doc["images"][0]["width"] = "4"
    doc["annotations"][1]["bbox"] = [0, 0, 1]
    del doc["categories"][0]["name"]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc))
    found = schema.check_coco_file(path, display="annotations/instances.json")
    records = [f.record for f in found]
    assert records == ["annotations[1].bbox", "categories[0]", "images[0].width"]
    assert all(f.code == "schema-violation" and f.file == "annotations/instances.json" for f in found)
    assert "'4' is not of type 'integer'" in found[2].message and found[2].hint


def test_coco_schema_skips_unparseable_and_huge_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    assert schema.check_coco_file(bad) == []  # the reader reports it, with line and column
    good = tmp_path / "big.json"
    doc = _coco()
    doc["images"][0]["width"] = "x"
    good.write_text(json.dumps(doc))
    monkeypatch.setattr(schema, "COCO_SCHEMA_MAX_BYTES", 10)
    assert schema.check_coco_file(good) == []


def test_data_yaml_valid_forms(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("path: .\ntrain: images/train\nval: [images/val]\nnames:\n  0: cat\n  1: dog\nnc: 2\n")
    assert schema.check_data_yaml(path) == []
    path.write_text("train: images/train\nval: images/val\nnames: [cat, dog]\n")
    assert schema.check_data_yaml(path) == []


def test_data_yaml_errors_name_line(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("train: images/train\nval: 3\nnames: [cat, dog]\n")
    (found,) = schema.check_data_yaml(path)
    assert (found.record, found.line, found.file) == ("val", 2, str(path))
    path.write_text("train: images/train\nnames:\n  0: cat\n  2: dog\nnc: 3\n")
    found = schema.check_data_yaml(path)
    assert [(f.record, f.line) for f in found] == [("names", 3), ("nc", 5)]
    assert "0..1" in found[0].message and "nc is 3 but names has 2" in found[1].message


def test_data_yaml_syntax_error_and_alias_bomb(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("names: [cat, dog\ntrain: x\n")
    (found,) = schema.check_data_yaml(path)
    assert found.code == "schema-violation" and "not valid YAML" in found.message and found.line
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    path.write_text("\n".join(lines) + "\nnames: [cat]\n")
    (found,) = schema.check_data_yaml(path)
    assert "expands to over 100,000 values" in found.message and "aliases" in found.hint


def test_manifest_reads_and_rejects_with_line(tmp_path: Path) -> None:
    path = tmp_path / "dataprep.yaml"
    path.write_text(
        "format: coco\nclasses: [cat, dog]\nsplits: {train: 0.8, val: 0.2}\nignore: [box-tiny]\n"
        "severity: {unused-category: error}\nthresholds: {min_box_side: 4}\n"
    )
    assert schema.find_manifest(tmp_path) == path
    assert schema.read_manifest(path)["splits"] == {"train": 0.8, "val": 0.2}
    path.write_text("format: coco\nseverity:\n  box-tiny: fatal\n")
    with pytest.raises(InputError) as err:
        schema.read_manifest(path)
    assert err.value.path == str(path) and err.value.record == "severity.box-tiny" and err.value.line == 3
    path.write_text("format: coco\nthreshold: {min_box_side: 4}\n")
    with pytest.raises(InputError, match="threshold"):
        schema.read_manifest(path)


def test_manifest_json(tmp_path: Path) -> None:
    path = tmp_path / "dataprep.json"
    path.write_text('{"format": "yolo", "splits": ["train", "val"]}')
    assert schema.read_manifest(path) == {"format": "yolo", "splits": ["train", "val"]}
    path.write_text('{"format": "yolo",')
    with pytest.raises(InputError, match="not valid JSON"):
        schema.read_manifest(path)


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [1, *a]\nnames: [x]\n",
        "names: " + "[" * 100 + "]" * 100 + "\n",
        "names: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
)
def test_yaml_self_reference_and_deep_nesting_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.yaml"
    path.write_text(text)
    (found,) = schema.check_data_yaml(path)
    assert found.code == "schema-violation" and found.file == str(path)
