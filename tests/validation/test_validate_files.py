"""validate() on files: planted-error YOLO, VOC and COCO datasets give the right codes, files and lines;
the bundled samples and the conformance files validate without errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from validation_builders import write_coco, write_image

from dataprep.errors import InputError
from dataprep.validation import validate

REPO = Path(__file__).resolve().parents[2]


def _found(report) -> set[tuple]:
    return {(f.code, f.file, f.line, f.record) for f in report.iter_findings() if f.severity != "info"}


def write_yolo(root: Path, *, plant: bool) -> Path:
    for split, names in (("train", "abc"), ("val", "de")):
        for n in names:
            write_image(root / f"images/{split}/{n}.jpg", 64, 48, seed=ord(n))
        (root / f"labels/{split}").mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [cat, dog]\n")
    labels = {
        "train/a": "0 0.5 0.5 0.2 0.2\n1 0.8 0.5 0.2 0.2\n",
        "train/b": "1 0.25 0.25 0.5 0.5\n",
        "train/c": "0 0.5 0.5 0.2 0.2\n",
        "val/d": "1 0.5 0.5 0.2 0.2\n",
        "val/e": "0 0.3 0.3 0.1 0.2\n",
    }
    for name, text in labels.items():
        (root / f"labels/{name}.txt").write_text(text)
    if plant:
        (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnc: 3\nnames: [cat, dog]\n")
        (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 1.2 0.5 0.2 0.2\n")
        (root / "labels/train/b.txt").write_bytes(b"\x00\xff\xfe binary \x00")
        (root / "labels/train/c.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5\n")
        (root / "labels/train/zz.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        (root / "labels/val/e.txt").write_text("0 0.5 0.5 0 0.2\n")
    return root


def test_yolo_clean(tmp_path: Path) -> None:
    report = validate(write_yolo(tmp_path / "yolo", plant=False))
    assert report.counts == {"error": 0, "warning": 0, "info": 0}, report.findings.to_string()


def test_yolo_planted_codes_files_lines(tmp_path: Path) -> None:
    report = validate(write_yolo(tmp_path / "yolo", plant=True))
    found = {(code, file, line) for code, file, line, _ in _found(report)}
    assert found == {
        ("bad-config", "data.yaml", None),
        ("bad-label-line", "labels/train/c.txt", 2),
        ("box-outside-image", "labels/train/a.txt", 2),
        ("yolo-out-of-range", "labels/train/a.txt", 2),
        ("box-zero-area", "labels/val/e.txt", 1),
        ("label-without-image", "labels/train/zz.txt", None),
        ("unreadable-label", "labels/train/b.txt", 1),
    }
    assert report.exit_code == 1


def test_yolo_data_yaml_schema(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "yolo", plant=False)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [cat, dog]\ndownload: 3\n")
    report = validate(root)
    (finding,) = report.iter_findings()
    assert (finding.code, finding.file, finding.record, finding.line) == (
        "schema-violation",
        "data.yaml",
        "download",
        5,
    )


def _voc_xml(name: str, width: int, height: int, objects: list[tuple]) -> str:
    body = "".join(
        f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
        f"<xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>\n"
        for n, a, b, c, d in objects
    )
    return (
        f"<annotation>\n<filename>{name}.jpg</filename>\n<size><width>{width}</width><height>{height}</height>"
        f"<depth>3</depth></size>\n{body}</annotation>\n"
    )


def write_voc(root: Path, *, plant: bool) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets/Main").mkdir(parents=True)
    for n in "abcde":
        write_image(root / f"JPEGImages/{n}.jpg", 64, 48, seed=ord(n) + 100)
    for n in "abcde":
        (root / f"Annotations/{n}.xml").write_text(
            _voc_xml(n, 64, 48, [("cat", 1, 1, 10, 10), ("dog", 20, 10, 60, 40)])
        )
    (root / "ImageSets/Main/train.txt").write_text("a\nb\nc\n")
    (root / "ImageSets/Main/val.txt").write_text("d\ne\n")
    if plant:
        (root / "Annotations/a.xml").write_text(_voc_xml("a", 64, 48, [("cat", 1, 1, 10, 10), ("dog", 50, 10, 70, 40)]))
        (root / "Annotations/b.xml").write_text("<annotation><filename>b.jpg</filename><object><name>cat</name>")
        (root / "Annotations/c.xml").write_text(
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
            "<annotation><filename>&lol2;</filename></annotation>\n"
        )
        (root / "Annotations/d.xml").write_text(_voc_xml("d", 80, 48, [("cat", 1, 1, 10, 10)]))
        (root / "JPEGImages/e.jpg").unlink()
    return root


def test_voc_clean(tmp_path: Path) -> None:
    report = validate(write_voc(tmp_path / "voc", plant=False))
    assert report.counts == {"error": 0, "warning": 0, "info": 0}, report.findings.to_string()


def test_voc_planted_codes_files_records(tmp_path: Path) -> None:
    report = validate(write_voc(tmp_path / "voc", plant=True))
    found = {(code, file, record) for code, file, _, record in _found(report)}
    assert found == {
        ("box-outside-image", "Annotations/a.xml", "object[2]"),
        ("unreadable-input", "Annotations/b.xml", "line 1, column 63"),
        ("unreadable-input", "Annotations/c.xml", "DOCTYPE"),
        ("size-mismatch", "JPEGImages/d.jpg", None),
        ("image-missing", "JPEGImages/e.jpg", None),
    }
    bomb = next(f for f in report.iter_findings() if f.record == "DOCTYPE")
    assert bomb.line == 2 and "refused" in bomb.message


def test_coco_planted_codes_and_records(tmp_path: Path) -> None:
    report = validate(write_coco(tmp_path / "coco", plant=True))
    found = {(code, file, record) for code, file, _, record in _found(report)}
    assert ("invalid-record", "annotations/instances_train.json", "annotations[2].bbox") in found
    assert ("image-missing", "images/val/d e.jpg", None) in found
    codes = sorted(code for code, *_ in found)
    assert codes == ["box-outside-image", "box-zero-area", "dangling-category", "image-missing", "invalid-record"]


def test_coco_schema_violation_not_repeated_by_reader(tmp_path: Path) -> None:
    root = write_coco(tmp_path / "coco")
    path = root / "annotations/instances_train.json"
    doc = json.loads(path.read_text())
    doc["licenses"] = "CC-BY"
    path.write_text(json.dumps(doc))
    findings = list(validate(root).iter_findings())
    assert [(f.code, f.file, f.record) for f in findings] == [
        ("schema-violation", "annotations/instances_train.json", "licenses")
    ]


def test_unreadable_input_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        validate(tmp_path / "missing")
    root = write_coco(tmp_path / "coco")
    path = root / "annotations/instances_train.json"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError) as err:
        validate(root)
    assert err.value.path and err.value.path.endswith("instances_train.json")


@pytest.mark.parametrize("sample", ["detection/coco", "detection/voc", "detection/yolo", "classification/folders"])
def test_samples_validate_clean(sample: str) -> None:
    path = REPO / "samples" / sample
    if not path.exists():
        pytest.skip("samples/ not generated")
    report = validate(path)
    assert report.counts["error"] == 0 and report.counts["warning"] == 0, report.findings.head(10).to_string()


@pytest.mark.parametrize(
    "folder",
    [
        "coco_dataset/coco_instances",
        "voc_dataset/voc_dataset1",
        "yolo_dataset/strict",
        "yolo_dataset/labels",
    ],
)
def test_conformance_files_validate(conformance: Path, folder: str) -> None:
    report = validate(conformance / "datumaro" / folder)
    # These test assets are tiny and odd on purpose; nothing may crash and every finding is located.
    for f in report.iter_findings():
        assert f.file or f.record or f.image_id is not None, f
