"""Real-world format variants other tools write (issue 7, items 13-21): each read as what it is, or refused
loudly, never silently wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, make_image
from typer.testing import CliRunner

import dataprep
from dataprep.cli import app
from dataprep.errors import InputError
from dataprep.formats import coco
from dataprep.formats._json_chunks import ChunkSizes

runner = CliRunner()


def _string_id_coco(path: Path) -> Path:
    """A VOC-to-COCO script's output: string image ids, and one numeric id written both ways."""
    doc = {
        "images": [
            {"id": "BloodImage_00001", "file_name": "a.jpg", "width": 10, "height": 10},
            {"id": "2299", "file_name": "b.jpg", "width": 10, "height": 10},
            {"id": 7, "file_name": "c.jpg", "width": 10, "height": 10},
        ],
        "annotations": [
            {"id": 1, "image_id": "BloodImage_00001", "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 2, "image_id": 2299, "category_id": 1, "bbox": [1, 1, 3, 3]},
            {"id": 3, "image_id": "7", "category_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 4, "image_id": "BloodImage_09999", "category_id": 1, "bbox": [1, 1, 5, 5]},
        ],
        "categories": [{"id": 1, "name": "rbc"}],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# -- item 13: COCO string image ids ---------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_coco_string_image_ids_are_renumbered_in_file_order(tmp_path: Path, chunked: bool) -> None:
    path = _string_id_coco(tmp_path / "instances.json")
    sizes = ChunkSizes(min_bytes=0, records=2) if chunked else ChunkSizes()
    result = coco.read(path, chunk_sizes=sizes)
    ds = result.dataset
    assert ds.images.index.tolist() == [1, 2, 3]
    assert [a["original_id"] for a in ds.images["attributes"]] == ["BloodImage_00001", "2299", 7]
    # "2299" and 2299 are one image; "7" is image 7; an id no image has stays dangling
    assert ds.annotations["image_id"].tolist() == [1, 2, 3, 4]
    assert 4 not in ds.images.index
    (finding,) = result.findings
    assert finding.code == "coco-string-id" and finding.severity == "warning"
    assert finding.record == "images[0].id"
    assert any("renumbered 1..3" in n for n in result.notes)


def test_validate_warns_about_string_ids_and_does_not_crash(tmp_path: Path) -> None:
    path = _string_id_coco(tmp_path / "instances.json")
    report = dataprep.validate(path)
    codes = set(report.findings["code"])
    assert "coco-string-id" in codes and "dangling-image" in codes
    assert "invalid-record" not in codes


def test_string_ids_convert_to_integer_ids(tmp_path: Path) -> None:
    path = _string_id_coco(tmp_path / "instances.json")
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(path), str(out), "--to", "coco", "--images", "none", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [f["code"] for f in data["findings"]] == ["coco-string-id"]
    (written,) = (out / "annotations").glob("*.json")
    doc = json.loads(written.read_text())
    assert all(type(img["id"]) is int for img in doc["images"])
    assert all(type(ann["image_id"]) is int for ann in doc["annotations"])


@pytest.mark.parametrize("section", ["images", "annotations"])
def test_json_true_is_not_an_id(tmp_path: Path, section: str) -> None:
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "categories": [{"id": 1, "name": "a"}],
    }
    doc[section][-1]["id"] = True
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match="must be an integer, got True"):
        coco.read(path)


# -- item 14: custom split names ------------------------------------------------------------------


def _csv_with_splits(root: Path, splits: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = ["file_name,label,split"]
    for i, split in enumerate(splits):
        make_image(root / f"{i}.png", 8, 8)
        rows.append(f'{i}.png,{"cat" if i % 2 else "dog"},"{split}"')
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


CUSTOM = ["v2", "fold3", "train", "val2014_100", "valid"]


def test_custom_split_names_are_read_as_they_are(tmp_path: Path) -> None:
    ds = dataprep.read(_csv_with_splits(tmp_path / "src", CUSTOM))
    assert ds.images["split"].tolist() == ["v2", "fold3", "train", "val2014_100", "val"]


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc", "folders", "csv", "cvat"])
def test_custom_split_names_survive_every_format_that_holds_splits(tmp_path: Path, fmt: str) -> None:
    src = _csv_with_splits(tmp_path / "src", CUSTOM)
    result = dataprep.convert(src, tmp_path / "out", to=fmt)
    assert "split-renamed" not in {loss.code for loss in result.written.losses}
    back = dataprep.read(tmp_path / "out")
    assert sorted(back.images["split"].astype(str)) == sorted(["v2", "fold3", "train", "val2014_100", "val"])
    assert not any("\0" in str(p) or p.name == "_" for p in (tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc", "folders", "cvat"])
def test_split_names_no_file_can_hold_are_renamed_and_reported(tmp_path: Path, fmt: str) -> None:
    src = _csv_with_splits(tmp_path / "src", ["train", "../up", "a/b"])
    result = dataprep.convert(src, tmp_path / "out", to=fmt)
    (loss,) = [x for x in result.written.losses if x.code == "split-renamed"]
    assert loss.count == 2 and loss.unit == "image"
    back = dataprep.read(tmp_path / "out")
    assert sorted(back.images["split"].astype(str)) == ["__up", "a_b", "train"]
    assert not (tmp_path / "up").exists()


# -- item 15: labels without images ----------------------------------------------------------------


def _darknet_without_images(root: Path) -> Path:
    """CVAT's darknet export with its images left out: data/obj.data, a list, labels beside the images."""
    (root / "data" / "obj").mkdir(parents=True)
    (root / "data" / "obj.data").write_text("classes = 2\ntrain = data/train.txt\nnames = data/obj.names\n")
    (root / "data" / "obj.names").write_text("a\nb\n")
    lines = []
    for i in range(3):
        lines.append(f"data/obj/img{i}.jpg")
        (root / "data" / "obj" / f"img{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data" / "train.txt").write_text("\n".join(lines) + "\n")
    return root / "data" / "obj.data"


def _ultralytics_without_images(root: Path) -> Path:
    for split in ("train", "val"):
        (root / "labels" / split).mkdir(parents=True)
        for i in range(2):
            (root / "labels" / split / f"x{i}.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [a, b]\n")
    return root


@pytest.mark.parametrize("build", [_darknet_without_images, _ultralytics_without_images])
def test_labels_without_images_are_never_an_empty_success(tmp_path: Path, build) -> None:
    src = build(tmp_path / "src")
    for extra in ([], ["--on-error", "collect"]):
        result = runner.invoke(app, ["convert", str(src), str(tmp_path / "out"), "--to", "voc", "--json", *extra])
        assert result.exit_code == 3, result.output
        assert "without an image" in json.loads(result.stdout)["error"]["message"] or "not found" in result.stdout
        assert not (tmp_path / "out").exists()
    report = dataprep.validate(src)
    codes = set(report.findings["code"])
    assert "label-without-image" in codes and "unused-category" not in codes
    assert (report.findings["code"] == "label-without-image").sum() == (3 if build is _darknet_without_images else 4)


# -- item 19: YOLO pose keypoints ------------------------------------------------------------------


def _pose(root: Path) -> Path:
    make_image(root / "images" / "train" / "a.jpg", 100, 50)
    (root / "labels" / "train").mkdir(parents=True)
    # one visible point, one unlabelled (0 0 0)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.5 0.5 2 0 0 0\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nkpt_shape: [2, 3]\nnames: [p]\n")
    return root


def test_pose_keypoints_are_kept_by_coco_and_listed_as_a_loss_elsewhere(tmp_path: Path) -> None:
    src = _pose(tmp_path / "src")
    ds = dataprep.read(src)
    assert ds.annotations["x_min"].tolist() == [40.0]
    result = dataprep.convert(src, tmp_path / "coco", to="coco")
    assert result.written.lossless
    doc = json.loads(next((tmp_path / "coco" / "annotations").glob("*.json")).read_text())
    (ann,) = doc["annotations"]
    assert ann["keypoints"] == [50.0, 25.0, 2, 0.0, 0.0, 0] and ann["num_keypoints"] == 1
    for fmt in ("yolo", "voc"):
        losses = {x.code: x.count for x in dataprep.convert(src, tmp_path / fmt, to=fmt).written.losses}
        assert losses["keypoints-dropped"] == 1
        assert "attributes-dropped" not in losses  # said once, not also as a dropped attribute


# -- item 20: reports that said something untrue ---------------------------------------------------


def test_integer_pixel_yolo_to_voc_rounds_nothing(tmp_path: Path) -> None:
    root = tmp_path / "src"
    make_image(root / "images" / "train" / "a.jpg", 640, 480)
    rows = []
    for x0, y0, x1, y1 in [(13, 17, 101, 333), (211, 5, 377, 479)]:
        cx, cy, w, h = (x0 + x1) / 2 / 640, (y0 + y1) / 2 / 480, (x1 - x0) / 640, (y1 - y0) / 480
        rows.append(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("\n".join(rows) + "\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [a]\n")
    result = dataprep.convert(root, tmp_path / "voc", to="voc")
    assert "coordinates-rounded" not in {x.code for x in result.written.losses}
    back = dataprep.read(tmp_path / "voc").annotations
    assert back[["x_min", "y_min", "x_max", "y_max"]].to_numpy().tolist() == [[13, 17, 101, 333], [211, 5, 377, 479]]
    # a real fraction is still reported
    ds = dataprep.read(root)
    ds.annotations.loc[1, "x_min"] = 13.4
    assert "coordinates-rounded" in {x.code for x in dataprep.formats.plan(ds, "voc")}


def test_cvat_default_list_is_not_called_no_split(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    make_image(root / "JPEGImages" / "a.jpg", 8, 8)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>8</width><height>8</height></size>"
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>3</ymax></bndbox></object>"
        "</annotation>"
    )
    (root / "ImageSets" / "Main" / "default.txt").write_text("a\n")
    result = dataprep.load(root)
    assert not any("in no split list" in n for n in result.notes)
    assert any("default.txt" in n for n in result.notes)
    assert result.dataset.images["split"].isna().all()


def test_a_results_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "detections.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}]))
    result = runner.invoke(app, ["info", str(path), "--json"])
    assert result.exit_code == 3
    message = json.loads(result.stdout)["error"]["message"]
    assert "results file" in message and "dataprep evaluate" in message


def test_a_folder_of_several_datasets_is_an_error_naming_them(tmp_path: Path) -> None:
    for fmt in ("coco", "voc", "yolo"):
        dataprep.convert(REPO / "samples" / "detection" / "coco", tmp_path / "all" / fmt, to=fmt, images="none")
    with pytest.raises(InputError, match=r"several datasets: coco/ \(coco\), voc/ \(voc\), yolo/ \(yolo\)"):
        dataprep.load(tmp_path / "all")
    assert dataprep.load(tmp_path / "all" / "coco").format == "coco"  # its annotations/ + images/ are one dataset


def test_an_empty_path_argument_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["info", "", "--json"])
    assert result.exit_code == 2
    assert "empty path" in json.loads(result.stdout)["error"]["message"]


def test_an_empty_labels_csv_is_not_read_as_class_folders(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.png", 8, 8)
    (tmp_path / "labels.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        dataprep.load(tmp_path)


# -- items 17, 18, 21: VOC variants ----------------------------------------------------------------

_XML = (
    "<annotation><filename>{name}</filename><size><width>8</width><height>8</height><depth>3</depth></size>"
    "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object>"
    "</annotation>"
)


def test_voc_segmentation_only_export_is_recognised_and_refused(tmp_path: Path) -> None:
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationObject"):
        make_image(tmp_path / folder / "a.png", 8, 8)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "train.txt").write_text("a\n")
    assert dataprep.formats.detect(tmp_path)[0][0] == "voc"
    with pytest.raises(InputError, match="segmentation export"):
        dataprep.load(tmp_path)
    report = runner.invoke(app, ["validate", str(tmp_path), "--json"])
    assert report.exit_code == 3  # never "passed" as class folders SegmentationClass/...


def test_roboflow_voc_split_folders_are_detected_with_their_splits(tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        for i in range(2):
            make_image(tmp_path / split / f"{split}{i}.jpg", 8, 8)
            (tmp_path / split / f"{split}{i}.xml").write_text(_XML.format(name=f"{split}{i}.jpg"))
    result = dataprep.load(tmp_path)
    assert result.format == "voc"
    ds = result.dataset
    assert ds.images["split"].value_counts().to_dict() == {"test": 2, "train": 2, "val": 2}
    assert len(ds.annotations) == 6 and ds.images["width"].notna().all()


def test_voc_folder_with_a_utf16_file_or_an_odd_xml_is_detected(tmp_path: Path) -> None:
    ann = tmp_path / "Annotations"
    ann.mkdir()
    make_image(tmp_path / "JPEGImages" / "a.jpg", 8, 8)
    make_image(tmp_path / "JPEGImages" / "b.jpg", 8, 8)
    text = '<?xml version="1.0" encoding="utf-16"?>\n' + _XML.format(name="a.jpg")
    (ann / "a.xml").write_bytes(text.encode("utf-16"))  # with a BOM, as Windows tools write it
    (ann / "b.xml").write_text(_XML.format(name="b.jpg"))
    assert dataprep.formats.detect(tmp_path)[0] == ("voc", 0.9)
    assert len(dataprep.read(tmp_path).annotations) == 2
    # a bare folder whose first xml is something else
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "0_config.xml").write_text("<config/>")
    (bare / "b.xml").write_text(_XML.format(name="b.jpg"))
    assert dataprep.formats.detect(bare)[0][0] == "voc"


# -- item 21: the rest -------------------------------------------------------------------------------


def test_class_names_with_outer_spaces_survive_coco_yolo_coco(tmp_path: Path) -> None:
    make_image(tmp_path / "src" / "images" / "a.png", 8, 8)
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [1, 1, 3, 3]},
        ],
        "categories": [{"id": 1, "name": " cat "}, {"id": 2, "name": "dog\t"}],
    }
    (tmp_path / "src" / "instances.json").write_text(json.dumps(doc))
    first = dataprep.convert(tmp_path / "src" / "instances.json", tmp_path / "yolo", to="yolo")
    second = dataprep.convert(tmp_path / "yolo", tmp_path / "coco", to="coco")
    names = dataprep.read(tmp_path / "coco").categories["name"].tolist()
    assert first.written.lossless and second.written.lossless
    assert names == [" cat ", "dog\t"]
    # darknet's obj.names cannot hold them: said, not silent
    darknet = dataprep.convert(
        tmp_path / "src" / "instances.json", tmp_path / "dk", to="yolo", write_options={"layout": "darknet"}
    )
    assert not darknet.written.lossless


def _png_header(path: Path, width: int, height: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    )


def test_a_header_claiming_a_bomb_is_no_size_for_convert_either(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _png_header(root / "images" / "a.png", 100_000, 100_000)
    make_image(root / "images" / "b.png", 8, 8)
    doc = {
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "categories": [{"id": 1, "name": "a"}],
    }
    (root / "instances.json").write_text(json.dumps(doc))
    assert "image-unreadable" in set(dataprep.validate(root / "instances.json").findings["code"])
    dataprep.convert(root / "instances.json", tmp_path / "coco", to="coco")
    written = json.loads(next((tmp_path / "coco" / "annotations").glob("*.json")).read_text())
    sizes = {img["file_name"]: (img.get("width"), img.get("height")) for img in written["images"]}
    assert sizes == {"a.png": (None, None), "b.png": (8, 8)}


def test_a_writer_refusal_names_the_destination_not_its_temporary_folder(tmp_path: Path) -> None:
    import dataclasses

    from dataprep.errors import OutputError

    ds = dataprep.read(REPO / "samples" / "detection" / "coco")
    images = ds.images.copy()
    images.loc[images.index[0], "file_name"] = "../../x.png"
    with pytest.raises(OutputError) as err:
        dataprep.formats.write(dataclasses.replace(ds, images=images), tmp_path / "out", "yolo", images="none")
    assert str(err.value).startswith(f"{tmp_path / 'out'}: ") and ".tmp-" not in str(err.value)
