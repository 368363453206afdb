"""LabelMe reader/writer: LabelMe's own examples, labelme2coco/labelme2voc rules, golden files,
round trips through COCO/VOC/YOLO, and hostile input (base64 bombs, escaping paths)."""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_image

from dataprep import formats
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError
from dataprep.formats import labelme
from dataprep.geometry import rle_area, rle_encode

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "labelme"
REGENERATE = os.environ.get("DATAPREP_REGENERATE_GOLDEN") == "1"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def labelme_file(path: Path, shapes: list[dict], *, size: tuple[int, int] | None = (40, 30), **extra: object) -> Path:
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": path.stem + ".jpg", "imageData": None}
    if size:
        doc |= {"imageWidth": size[0], "imageHeight": size[1]}
    doc |= extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def shape(label: str, points: list, kind: str = "polygon", group_id: object = None, **extra: object) -> dict:
    return {"label": label, "points": points, "group_id": group_id, "shape_type": kind, "flags": {}, **extra}


def png_base64(width: int, height: int, *, real: bool = True) -> str:
    """A PNG (real pixels) or only its header claiming `width` x `height` (a decompression bomb)."""
    if real:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (width, height), 255).save(buf, format="PNG")
        return base64.b64encode(buf.getvalue()).decode()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + b"\x00" * 8
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data += struct.pack(">I", 8) + idat + struct.pack(">I", zlib.crc32(idat))
    return base64.b64encode(data).decode()


# -- conformance: LabelMe's own examples --------------------------------------------------------


def test_reads_bbox_detection_example(conformance: Path) -> None:
    result = labelme.read(conformance / "labelme" / "bbox_detection")
    ds = result.dataset
    assert ds.images["file_name"].tolist() == ["2011_000003.jpg", "2011_000006.jpg", "2011_000025.jpg"]
    assert ds.images[["width", "height"]].to_numpy().tolist() == [[500, 338], [500, 375], [500, 375]]
    assert ds.annotations.groupby("image_id").size().tolist() == [2, 4, 3]
    names = ds.categories["name"].reindex(ds.annotations["category_id"]).tolist()
    assert names.count("person") == 6 and names.count("bus") == 2 and names.count("car") == 1
    # labels.txt ids as labelme2coco gives them: line - 1, with __ignore__ and _background_ not classes
    assert "__ignore__" not in ds.categories["name"].tolist() and "_background_" not in ds.categories["name"].tolist()
    assert ds.categories.index[ds.categories["name"] == "aeroplane"].tolist() == [1]
    assert ds.categories.index[ds.categories["name"] == "person"].tolist() == [15]
    assert any("not object classes" in n for n in result.notes)
    # the rectangles' two corners are the box
    np.testing.assert_allclose(
        ds.annotations[BOX_COLUMNS].iloc[0], [191.0, 107.36900369003689, 313.0, 329.36900369003695]
    )


def _labelme2coco_reference(folder: Path) -> list[tuple[str, str, list[float]]]:
    """labelme2coco's rules, restated: skip __ignore__, merge (label, group_id) parts, box = points' extent."""
    out = []
    for file in sorted(folder.glob("*.json")):
        doc = json.loads(file.read_text())
        groups: dict[tuple, list] = {}
        for k, s in enumerate(doc["shapes"]):
            if s["label"] == "__ignore__":
                continue
            key = (s["label"], s["group_id"] if s["group_id"] is not None else ("single", k))
            groups.setdefault(key, []).extend(s["points"])
        for (label, _), pts in groups.items():
            p = np.asarray(pts)
            x0, y0 = p.min(axis=0)
            x1, y1 = p.max(axis=0)
            out.append((doc["imagePath"], label, [x0, y0, x1 - x0, y1 - y0]))
    return sorted(out)


def test_to_coco_follows_labelme2coco(conformance: Path, tmp_path: Path) -> None:
    src = conformance / "labelme" / "instance_segmentation"
    result = formats.convert(src, tmp_path / "coco", to="coco", images="none")
    assert any("__ignore__" in n for n in result.source.notes)
    doc = json.loads(next((tmp_path / "coco" / "annotations").glob("*.json")).read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    files = {i["id"]: i["file_name"].rsplit("/", 1)[-1] for i in doc["images"]}
    got = sorted((files[a["image_id"]], cats[a["category_id"]], a["bbox"]) for a in doc["annotations"])
    expected = _labelme2coco_reference(src)
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], atol=1e-9)
    merged = [a for a in doc["annotations"] if len(a["segmentation"]) > 1]
    assert [len(a["segmentation"]) for a in merged] == [2, 4]  # person (group 0) and sofa (group 0)
    # category ids are labelme2coco's (labels.txt line - 1)
    assert {c["name"]: c["id"] for c in doc["categories"]}["person"] == 15


def test_to_voc_follows_labelme2voc(conformance: Path, tmp_path: Path) -> None:
    src = conformance / "labelme" / "bbox_detection"
    formats.convert(src, tmp_path / "voc", to="voc", images="none")
    back = formats.read(tmp_path / "voc", "voc")
    expected = []
    for file in sorted(src.glob("*.json")):
        for s in json.loads(file.read_text())["shapes"]:
            (x0, y0), (x1, y1) = s["points"]
            expected.append([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)])
    # VOC holds whole pixels: every box within half a pixel of labelme2voc's
    np.testing.assert_allclose(back.boxes_xyxy(), expected, atol=0.5 + 1e-9)


def test_reads_every_primitive(conformance: Path) -> None:
    ds = labelme.read(conformance / "labelme" / "primitives").dataset
    anns = ds.annotations
    assert len(ds.images) == 1 and (ds.images["width"].iloc[0], ds.images["height"].iloc[0]) == (560, 450)
    names = ds.categories["name"].reindex(anns["category_id"]).tolist()
    assert names == ["rectangle", "circle", "rectangle", "polygon", "line", "point", "line_strip", "octagon"]
    kinds = [a.get("shape_type") if isinstance(a, dict) else None for a in anns["attributes"]]
    assert kinds == [None, None, None, None, "line", "point", "linestrip", None]
    circle = anns.iloc[1]
    r = np.hypot(225 - 195, 125 - 84)
    np.testing.assert_allclose(circle[BOX_COLUMNS].to_numpy(float), [195 - r, 84 - r, 195 + r, 84 + r])
    assert len(circle["segmentation"][0]) % 4 == 0
    mask = anns.iloc[7]
    assert isinstance(mask["segmentation"], dict) and mask["segmentation"]["size"] == [450, 560]
    doc = json.loads((conformance / "labelme" / "primitives" / "primitives.json").read_text())
    import io

    from PIL import Image

    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(doc["shapes"][7]["mask"]))).convert("L")) > 0
    assert rle_area(mask["segmentation"]) == png.sum()
    assert mask[BOX_COLUMNS].tolist()[:2] == [417.0, 305.0]


# -- golden files -------------------------------------------------------------------------


def golden_dataset(root: Path) -> Dataset:
    """Two images: a box with a flag and a description, a two-part polygon, a mask, a point and a line;
    an image-level label on the second."""
    make_image(root / "a.jpg", 40, 30)
    make_image(root / "sub dir" / "b é.png", 20, 10)
    mask = np.zeros((10, 20), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    images = {"image_id": [1, 2], "file_name": ["a.jpg", "sub dir/b é.png"], "width": [40, 20], "height": [30, 10]}
    polygon = [np.array([[1, 1], [5, 1], [5, 4]], float), np.array([[10, 10], [12, 10], [12, 15.5]], float)]
    annotations = {
        "annotation_id": [1, 2, 3, 4, 5, 6],
        "image_id": [1, 1, 1, 2, 2, 2],
        "category_id": [1, 2, 1, 2, 1, 3],
        "x_min": [2.5, 1, 7, 3, 4, np.nan],
        "y_min": [3, 1, 8, 2, 5, np.nan],
        "x_max": [20, 12, 7, 9, 9, np.nan],
        "y_max": [25.25, 15.5, 8, 5, 6, np.nan],
        "segmentation": [None, polygon, None, rle_encode(mask), None, None],
        "attributes": [
            {"truncated": True, "description": "half hidden"},
            None,
            {"shape_type": "point", "points": [[7.0, 8.0]]},
            None,
            {"shape_type": "line", "points": [[4.0, 5.0], [9.0, 6.0]]},
            None,
        ],
    }
    categories = {"category_id": [1, 2, 3], "name": ["cat", "dog", "indoor"]}
    return Dataset.from_frames(images, annotations, categories, root=root)


def test_writes_golden_files_byte_for_byte(tmp_path: Path) -> None:
    report = formats.write(golden_dataset(tmp_path / "src"), tmp_path / "out", "labelme", images="none")
    assert report.lossless, report.losses
    written = tree(tmp_path / "out")
    if REGENERATE:
        for name, data in written.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    assert written == tree(GOLDEN)
    doc = json.loads(written["a.json"])
    assert doc["version"] and doc["imageData"] is None and doc["imagePath"] == "a.jpg"
    assert [s["shape_type"] for s in doc["shapes"]] == ["rectangle", "polygon", "polygon", "point"]
    assert doc["shapes"][1]["group_id"] == doc["shapes"][2]["group_id"] == 1


def test_reads_golden_files_back(tmp_path: Path) -> None:
    ds = golden_dataset(tmp_path)
    back = labelme.read(GOLDEN).dataset
    assert back.images["file_name"].tolist() == ds.images["file_name"].tolist()
    np.testing.assert_array_equal(back.boxes_xyxy(), ds.boxes_xyxy())
    assert back.annotations["attributes"].tolist() == ds.annotations["attributes"].tolist()
    assert [len(s) if isinstance(s, list) else s for s in back.annotations["segmentation"]][:2] == [None, 2]
    assert back.annotations["segmentation"].iloc[3] == ds.annotations["segmentation"].iloc[3]


def test_embed_images_round_trip(tmp_path: Path) -> None:
    ds = golden_dataset(tmp_path / "src")
    formats.write(ds, tmp_path / "out", "labelme", images="none", embed_images=True)
    doc = json.loads((tmp_path / "out" / "a.json").read_text())
    assert base64.b64decode(doc["imageData"]) == (tmp_path / "src" / "a.jpg").read_bytes()
    # sizes come from the embedded image when the json lacks them
    del doc["imageWidth"], doc["imageHeight"]
    (tmp_path / "out" / "a.json").write_text(json.dumps(doc))
    result = labelme.read(tmp_path / "out")
    assert (result.dataset.images["width"].iloc[0], result.dataset.images["height"].iloc[0]) == (40, 30)
    assert any("imageData" in n for n in result.notes)


def image_file_bytes(kind: str, width: int, height: int, seed: int) -> bytes:
    """A real PNG or JPEG with noisy pixels (so re-encoding it would change its bytes)."""
    import io

    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=kind)
    return buf.getvalue()


def embedded_only_folder(root: Path) -> dict[str, bytes]:
    """LabelMe files whose images exist only as base64 ``imageData``; returns image name -> bytes."""
    images = {"a.png": image_file_bytes("PNG", 40, 30, 0), "sub/b.jpg": image_file_bytes("JPEG", 32, 24, 1)}
    for name, data in images.items():
        stem = Path(name).with_suffix("")
        box = shape("cat", [[2, 3], [20, 18]], "rectangle")
        size = None if name == "a.png" else (32, 24)  # a.png: the size is read from imageData too
        text = base64.b64encode(data).decode()
        labelme_file(root / f"{stem}.json", [box], size=size, imagePath=Path(name).name, imageData=text)
    return images


@pytest.mark.parametrize("target", ["coco", "voc", "yolo"])
def test_images_copy_writes_embedded_images(tmp_path: Path, target: str) -> None:
    images = embedded_only_folder(tmp_path / "src")
    result = formats.convert(tmp_path / "src", tmp_path / "out", to=target, from_format="labelme", images="copy")
    assert (result.written.images_transferred, result.written.images_missing) == (2, 0)
    written = tree(tmp_path / "out")
    for name, data in images.items():  # each writer's own layout: find the file by its base name
        found = [v for k, v in written.items() if k.endswith("/" + Path(name).name) or k == Path(name).name]
        assert found == [data], name
    assert any("imageData" in n for n in result.source.notes)


def test_embed_images_round_trips_embedded_only_images(tmp_path: Path) -> None:
    images = embedded_only_folder(tmp_path / "src")
    src = labelme.read(tmp_path / "src").dataset
    report = formats.write(src, tmp_path / "out", "labelme", images="none", embed_images=True)
    assert report.lossless, report.losses
    for name, data in images.items():
        doc = json.loads((tmp_path / "out" / Path(name).with_suffix(".json")).read_text())
        assert base64.b64decode(doc["imageData"]) == data
    back = labelme.read(tmp_path / "out").dataset
    pd.testing.assert_frame_equal(back.images, src.images)
    pd.testing.assert_frame_equal(back.annotations, src.annotations)
    # and out again as files, from the re-embedded data
    formats.write(back, tmp_path / "files", "labelme", images="copy")
    assert {k: v for k, v in tree(tmp_path / "files").items() if not k.endswith(".json")} == images


def test_embedded_bomb_is_not_written(tmp_path: Path) -> None:
    # the size in the json spares the reader the header; the image source still checks it
    labelme_file(tmp_path / "src" / "a.json", [], imageData=png_base64(100_000, 100_000, real=False))
    labelme_file(tmp_path / "src" / "b.json", [], imagePath="other.png", imageData=png_base64(4, 4))
    ds = labelme.read(tmp_path / "src").dataset
    report = formats.write(ds, tmp_path / "out", "coco", images="copy")
    # b.json names other.png: its data is not b's image under another name
    assert (report.images_transferred, report.images_missing) == (0, 2)
    assert labelme.embedded_image(tmp_path / "src", "a.jpg") is None
    assert labelme.embedded_image(tmp_path / "src", "b.jpg") is None  # b.json's imagePath is other.png


# -- round trips through the other formats -------------------------------------------------


@pytest.mark.parametrize(
    ("target", "atol", "loss"),
    [("coco", 0.0, None), ("voc", 0.5, "coordinates-rounded"), ("yolo", 1e-6 * 500, "polygon-to-box")],
)
def test_round_trips_keep_boxes(conformance: Path, tmp_path: Path, target: str, atol: float, loss: str | None) -> None:
    src = labelme.read(conformance / "labelme" / "instance_segmentation").dataset
    # YOLO needs the images for their sizes
    report = formats.write(src, tmp_path / target, target, images="link" if target == "yolo" else "none")
    codes = {item.code for item in report.losses}
    assert loss is None or loss in codes
    back = formats.read(tmp_path / target, target)
    np.testing.assert_allclose(back.boxes_xyxy(), src.boxes_xyxy(), atol=atol)
    again = formats.write(back, tmp_path / "labelme", "labelme", images="none")
    assert formats.read(tmp_path / "labelme", "labelme").annotations.shape[0] == len(src.annotations)
    assert not {item.code for item in again.losses} & {"attributes-dropped", "polygon-to-box", "mask-to-box"}


def test_plan_lists_what_labelme_drops(small_dataset: Dataset) -> None:
    ds = small_dataset.replace(
        annotations=small_dataset.annotations.assign(
            score=[0.5, np.nan, np.nan, np.nan], attributes=[{"pose": "left"}, None, None, None]
        )
    )
    codes = {item.code for item in formats.plan(ds, "labelme")}
    assert {"split-dropped", "score-dropped", "attributes-dropped"} <= codes


# -- errors and hostile input ----------------------------------------------------------------


def test_refuses_base64_bomb_in_image_data(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [], size=None, imageData=png_base64(100_000, 100_000, real=False))
    with pytest.raises(InputError, match="decompression bomb") as info:
        labelme.read(tmp_path)
    assert info.value.record == "imageData" and "a.json" in str(info.value.path)
    result = labelme.read(tmp_path, on_error="collect")
    assert len(result.dataset.images) == 0 and result.findings[0].record == "imageData"


def test_refuses_oversized_image_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labelme.parse, "MAX_IMAGE_DATA_CHARS", 1000)
    labelme_file(tmp_path / "a.json", [], imageData="A" * 2000)
    with pytest.raises(InputError, match="over the"):
        labelme.read(tmp_path)


def test_refuses_image_data_that_is_not_an_image(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [], size=None, imageData=base64.b64encode(b"hello").decode())
    with pytest.raises(InputError, match="not an image"):
        labelme.read(tmp_path)


def test_image_path_leaving_the_folder_falls_back_to_the_json_name(tmp_path: Path) -> None:
    labelme_file(tmp_path / "x" / "a.json", [], imagePath="../../../etc/passwd.jpg")
    labelme_file(tmp_path / "x" / "b.json", [], imagePath="C:\\data\\b.jpg")
    labelme_file(tmp_path / "x" / "c.json", [], imagePath="..")
    result = labelme.read(tmp_path)
    assert result.dataset.images["file_name"].tolist() == ["x/a.jpg", "x/b.jpg", "x/c"]
    assert any("left the folder" in n for n in result.notes)


def test_reports_bad_points_with_file_and_record(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [shape("cat", [[1, 2], [3, 4]], "polygon")])
    with pytest.raises(InputError, match="at least 3 points") as info:
        labelme.read(tmp_path)
    assert info.value.record == "shapes[0].points" and info.value.hint
    labelme_file(
        tmp_path / "a.json",
        [shape("cat", [[1, 2], ["x", 4]], "rectangle"), shape("dog", [[0, 0], [1, 1]], "rectangle")],
    )
    result = labelme.read(tmp_path, on_error="collect")
    assert len(result.dataset.annotations) == 1 and result.findings[0].record == "shapes[0].points"


def test_plain_and_mixed_files_read_alike(tmp_path: Path) -> None:
    # plain rectangle/polygon files take the one-numpy-pass route; a file with a group, a flag or a
    # circle is parsed shape by shape; both give the points' extent as the box, in file order
    rect, poly = [[4, 9], [1.5, 2]], [[0, 0], [10, 1], [3, 7.25]]
    labelme_file(tmp_path / "a.json", [shape("cat", rect, "rectangle"), shape("dog", poly)])
    labelme_file(tmp_path / "b.json", [shape("cat", rect, "rectangle"), shape("dog", poly, flags={"x": True})])
    labelme_file(tmp_path / "c.json", [shape("dog", poly, shape_type=None), shape("cat", rect, "rectangle")])
    ds = labelme.read(tmp_path).dataset
    expected = [[1.5, 2, 4, 9], [0, 0, 10, 7.25]]
    np.testing.assert_array_equal(ds.boxes_xyxy(), np.array(expected * 2 + expected[::-1]))
    segs = ds.annotations["segmentation"].tolist()
    assert segs[0] is None and segs[2] is None and segs[5] is None
    for k in (1, 3, 4):
        np.testing.assert_array_equal(segs[k][0], np.array(poly, dtype=np.float64))
    assert ds.annotations["attributes"].tolist() == [None, None, None, {"x": True}, None, None]


@pytest.mark.parametrize(
    "bad",
    [
        [[1, 2], [3, "nan"]],
        [[1, 2, 3], [3, 4]],
        [[1, 2], "x"],
        [[1, 2], None],
        [[1, 2, 3], [4]],  # four numbers, but not two [x, y] pairs
        [[1, 2], "34"],  # a string of two characters is no point
        [[1, 2], {"x": 3, "y": 4}],
        [[1, 2], [[3, 4], 5]],
    ],
)
def test_a_bad_point_among_plain_files_is_named(tmp_path: Path, bad: list) -> None:
    for name in ("a", "c"):
        labelme_file(tmp_path / f"{name}.json", [shape("cat", [[0, 0], [5, 5]], "rectangle")])
    labelme_file(tmp_path / "b.json", [shape("cat", [[0, 0], [5, 5]], "rectangle"), shape("dog", bad, "rectangle")])
    with pytest.raises(InputError) as info:
        labelme.read(tmp_path)
    assert info.value.record == "shapes[1].points" and "b.json" in str(info.value.path)
    result = labelme.read(tmp_path, on_error="collect")
    assert len(result.dataset.annotations) == 3 and [f.record for f in result.findings] == ["shapes[1].points"]


def test_unknown_shape_type_is_reported(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [shape("cat", [[1, 2], [3, 4]], "hexagon")])
    with pytest.raises(InputError, match="hexagon"):
        labelme.read(tmp_path)
    labelme_file(tmp_path / "a.json", [shape("cat", [[1, 2], [3, 4]], ["rectangle"])])  # unhashable: no crash
    with pytest.raises(InputError, match="unknown shape_type") as info:
        labelme.read(tmp_path)
    assert info.value.record == "shapes[0].shape_type"


def test_odd_numbers_read_as_shape_by_shape(tmp_path: Path) -> None:
    # numbers as strings or booleans, as numpy reads them; the one-pass route leaves such a file
    # to the shape-by-shape parser or reads it alike
    from dataprep.formats.labelme import Collector, _parse_files, resolve_deferred, resolve_layout

    labelme_file(tmp_path / "a.json", [shape("cat", [["1.5", 2], [4, "9"]], "rectangle")])
    labelme_file(
        tmp_path / "b.json", [shape("cat", [[True, 2], [4, 9]], "rectangle"), shape("dog", [[0, 0], [1, 1], [0, 1]])]
    )
    labelme_file(
        tmp_path / "c.json", [shape("dog", [[0, 0], [3, 1], [2, 2]]), shape("cat", [[9, 9], [0, 0]], "rectangle")]
    )
    layout = resolve_layout(tmp_path)
    fast = _parse_files(layout, Collector("raise"), defer=True)
    assert resolve_deferred(fast) and fast.deferred_rows
    assert_same_rows(fast, _parse_files(layout, Collector("raise"), defer=False))
    boxes = labelme.read(tmp_path).dataset.boxes_xyxy()
    np.testing.assert_array_equal(boxes[:2], [[1.5, 2, 4, 9], [1, 2, 4, 9]])


@pytest.mark.parametrize("size", [0, 65535, 65536, 65537, 300_001])
def test_reads_files_of_any_size(tmp_path: Path, size: int) -> None:
    from dataprep.formats.labelme import _read_bytes

    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert _read_bytes(str(tmp_path / "f")) == data


def test_reads_a_large_labelme_file(tmp_path: Path) -> None:
    shapes = [shape(f"c{k % 7}", [[k % 30, k % 20], [k % 30 + 5, k % 20 + 5]], "rectangle") for k in range(3000)]
    assert labelme_file(tmp_path / "a.json", shapes).stat().st_size > 200_000
    ds = labelme.read(tmp_path).dataset
    assert len(ds.annotations) == 3000 and ds.boxes_xyxy()[2999].tolist() == [29, 19, 34, 24]


def test_group_id_merges_masks_and_polygons(tmp_path: Path) -> None:
    mask = png_base64(4, 3)
    labelme_file(
        tmp_path / "a.json",
        [
            shape("cat", [[1, 1], [4, 3]], "mask", group_id=2, mask=mask),
            shape("cat", [[10, 10], [20, 10], [20, 20]], "polygon", group_id=2),
            shape("cat", [[30, 5], [35, 9]], "rectangle", group_id=None),
        ],
    )
    anns = labelme.read(tmp_path).dataset.annotations
    assert len(anns) == 2
    assert isinstance(anns["segmentation"].iloc[0], dict)
    np.testing.assert_allclose(anns[BOX_COLUMNS].iloc[0], [1, 1, 20, 20])
    assert rle_area(anns["segmentation"].iloc[0]) > 12


def test_image_flags_are_image_level_labels(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [], flags={"indoor": True, "night": False})
    ds = labelme.read(tmp_path).dataset
    assert ds.categories["name"].tolist() == ["indoor"] and ds.annotations["x_min"].isna().all()


def test_detection_and_provenance(conformance: Path, tmp_path: Path) -> None:
    folder = conformance / "labelme" / "instance_segmentation"
    assert formats.detect(folder)[0][0] == "labelme"
    result = labelme.read(folder, provenance=True)
    assert result.annotation_sources["file"].iloc[0] == "2011_000003.json"
    assert result.annotation_sources["record"].tolist()[:2] == ["shapes[0]", "shapes[1,2]"]
    assert isinstance(result.image_sources, pd.DataFrame)


def test_validate_runs_on_labelme(conformance: Path) -> None:
    from dataprep import validate

    report = validate(conformance / "labelme" / "bbox_detection")
    assert report is not None


# -- detection ties, validate, CLI ---------------------------------------------------------------


def test_a_folder_matching_two_formats_names_both(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [shape("cat", [[1, 1], [5, 5]], "rectangle")])
    (tmp_path / "annotations.xml").write_text("<annotations><version>1.1</version><meta><task/></meta></annotations>")
    assert {name for name, _ in formats.detect(tmp_path)} >= {"labelme", "cvat"}
    with pytest.raises(InputError, match=r"labelme and cvat|cvat and labelme") as info:
        formats.load(tmp_path)
    assert "--from" in str(info.value.hint)
    assert formats.load(tmp_path, "labelme").format == "labelme"


def test_validate_locates_findings_in_the_json(tmp_path: Path) -> None:
    from dataprep import validate

    labelme_file(
        tmp_path / "a.json",
        [shape("cat", [[1, 1], [5, 5]], "rectangle"), shape("cat", [[30, 1], [50, 5]], "rectangle")],
    )
    findings = validate(tmp_path).findings
    outside = findings[findings["code"] == "box-outside-image"]
    assert outside[["file", "record"]].to_numpy().tolist() == [["a.json", "shapes[1]"]]


def test_cli_converts_to_labelme_and_checks_embed_images(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dataprep.cli import app

    make_image(tmp_path / "src" / "a.jpg", 40, 30)
    labelme_file(tmp_path / "src" / "a.json", [shape("cat", [[1, 1], [5, 5]], "rectangle")])
    runner = CliRunner()
    args = ["convert", str(tmp_path / "src"), str(tmp_path / "out"), "--to", "labelme", "--embed-images", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "a.json").read_text())["imageData"]
    bad = runner.invoke(app, ["convert", str(tmp_path / "src"), str(tmp_path / "c"), "--to", "coco", "--embed-images"])
    assert bad.exit_code == 2 and "--embed-images" in bad.output


def test_refuses_mask_larger_than_the_image(tmp_path: Path) -> None:
    for mask, problem in (
        (png_base64(60, 5), "larger than the 40x30 image"),
        (png_base64(5, 90_000, real=False), "larger"),
    ):
        labelme_file(tmp_path / "a.json", [shape("cat", [[0, 0], [4, 4]], "mask", mask=mask)])
        with pytest.raises(InputError, match=problem) as info:
            labelme.read(tmp_path)
        assert info.value.record == "shapes[0].mask"


def _columns(rows: object) -> tuple:
    """A reader's rows as comparable columns, queued boxes filled in."""
    xyxy = np.array(rows.xyxy, dtype=np.float64).reshape(-1, 4)
    if rows.deferred_xyxy is not None:
        xyxy[rows.deferred_rows] = rows.deferred_xyxy
    return xyxy, rows.image, rows.label, rows.attributes, rows.record, rows.segmentation


def assert_same_rows(fast: object, slow: object) -> None:
    """The one-pass rows equal the shape-by-shape rows: boxes bit for bit, polygons, masks, the rest."""
    a, b = _columns(fast), _columns(slow)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:5] == b[1:5]
    for seg_a, seg_b in zip(a[5], b[5], strict=True):
        if isinstance(seg_a, list):
            assert len(seg_a) == len(seg_b) and all(np.array_equal(p, q) for p, q in zip(seg_a, seg_b, strict=True))
        else:
            assert seg_a == seg_b


@pytest.mark.parametrize("folder", ["bbox_detection", "instance_segmentation", "primitives"])
def test_one_pass_matches_shape_by_shape_on_labelme_examples(conformance: Path, folder: str) -> None:
    from dataprep.formats.labelme import Collector, _parse_files, resolve_deferred, resolve_layout

    layout = resolve_layout(conformance / "labelme" / folder)
    fast = _parse_files(layout, Collector("raise"), defer=True)
    assert resolve_deferred(fast)
    assert_same_rows(fast, _parse_files(layout, Collector("raise"), defer=False))
    assert folder == "primitives" or fast.deferred_rows  # the examples do take the one-pass route
