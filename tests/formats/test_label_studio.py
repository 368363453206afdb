"""Label Studio JSON: the converter's test exports, JSON-MIN, the image URL rule, brush RLE, golden
files, round trips through COCO/VOC/YOLO, and hostile input (escaping paths, entity expansion)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_image

from dataprep import formats
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError
from dataprep.formats import label_studio as ls
from dataprep.formats._json_chunks import ChunkSizes
from dataprep.geometry import rle_decode, rle_encode

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "label_studio"
REGENERATE = os.environ.get("DATAPREP_REGENERATE_GOLDEN") == "1"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def task(image: str, *results: dict, task_id: int = 1) -> dict:
    return {"id": task_id, "data": {"image": image}, "annotations": [{"id": 1, "result": list(results)}]}


def rect(x: float, y: float, w: float, h: float, label: str = "cat", rotation: float = 0, size=(200, 100)) -> dict:
    value = {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]}
    return {
        "type": "rectanglelabels",
        "value": value,
        "original_width": size[0],
        "original_height": size[1],
        "from_name": "label",
        "to_name": "image",
    }


def write_export(path: Path, tasks: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks))
    return path


# -- conformance: label-studio-converter's test exports -----------------------------------------


def test_reads_rectangles_export(conformance: Path) -> None:
    result = ls.read(conformance / "label-studio" / "data.json")
    ds = result.dataset
    assert len(ds.images) == 2 and len(ds.annotations) == 6
    assert ds.categories["name"].tolist() == ["parasites", "white"]
    assert ds.images[["width", "height"]].to_numpy().tolist() == [[2800, 2800], [2800, 2800]]
    first = json.loads((conformance / "label-studio" / "data.json").read_text())[0]["annotations"][0]["result"][0]
    v = first["value"]
    expected = [v["x"] * 28, v["y"] * 28, (v["x"] + v["width"]) * 28, (v["y"] + v["height"]) * 28]
    np.testing.assert_allclose(ds.annotations[BOX_COLUMNS].iloc[0], expected)
    assert any("several annotations" in n for n in result.notes)


def test_reads_polygons_export(conformance: Path) -> None:
    ds = ls.read(conformance / "label-studio" / "data_polygons.json").dataset
    assert len(ds.images) == 1 and len(ds.annotations) == 1
    polygon = ds.annotations["segmentation"].iloc[0][0]
    assert polygon.shape[1] == 2 and len(polygon) > 3
    np.testing.assert_allclose(ds.annotations[BOX_COLUMNS].iloc[0], [*polygon.min(axis=0), *polygon.max(axis=0)])


def test_reads_rotated_rectangles_about_the_top_left_corner(conformance: Path) -> None:
    path = conformance / "label-studio" / "data_obb.json"
    ds = ls.read(path).dataset
    assert len(ds.images) == 3 and len(ds.annotations) == 25
    tasks = json.loads(path.read_text())
    r = tasks[0]["annotations"][0]["result"][0]
    v, w, h = r["value"], r["original_width"], r["original_height"]
    x, y, bw, bh = v["x"] * w / 100, v["y"] * h / 100, v["width"] * w / 100, v["height"] * h / 100
    t = math.radians(v["rotation"])
    corners = [
        (x + dx * math.cos(t) - dy * math.sin(t), y + dx * math.sin(t) + dy * math.cos(t))
        for dx, dy in ((0, 0), (bw, 0), (bw, bh), (0, bh))
    ]
    xs, ys = zip(*corners, strict=True)
    np.testing.assert_allclose(ds.annotations[BOX_COLUMNS].iloc[0], [min(xs), min(ys), max(xs), max(ys)])
    assert ds.annotations["attributes"].iloc[0] == {"rotation": v["rotation"]}
    np.testing.assert_allclose(ds.annotations["segmentation"].iloc[0][0][0], [x, y])  # the pivot stays put


def test_reads_upload_export_with_its_own_config(conformance: Path) -> None:
    result = ls.read(conformance / "label-studio" / "json_min_data.json")
    assert result.dataset.images["file_name"].tolist() == ["example.png"]  # /data/upload/29/ stripped
    assert result.dataset.categories["name"].tolist() == ["Airplane", "Car"]  # from json_min_label_config.xml


def test_reads_json_min(tmp_path: Path) -> None:
    rows = [
        {
            "image": "/data/local-files/?d=photos/a%20b.jpg",
            "id": 7,
            "label": [
                {
                    "x": 10,
                    "y": 20,
                    "width": 50,
                    "height": 50,
                    "rotation": 0,
                    "rectanglelabels": ["cat"],
                    "original_width": 200,
                    "original_height": 100,
                }
            ],
            "kp": [
                {
                    "x": 50,
                    "y": 50,
                    "width": 0.5,
                    "keypointlabels": ["eye"],
                    "original_width": 200,
                    "original_height": 100,
                }
            ],
            "annotator": 1,
        }
    ]
    ds = ls.read(write_export(tmp_path / "min.json", rows)).dataset
    assert ds.images["file_name"].tolist() == ["photos/a b.jpg"]
    assert ds.boxes_xyxy().tolist() == [[20.0, 20.0, 120.0, 70.0], [100.0, 50.0, 100.0, 50.0]]
    assert ds.annotations["attributes"].iloc[1] == {"shape_type": "points", "points": [[100.0, 50.0]]}


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/data/local-files/?d=images/a.jpg", "images/a.jpg"),
        ("/data/local-files/?d=dir%2Fsub/b%20c.jpg", "dir/sub/b c.jpg"),
        ("/data/upload/12/3f2a9c1e-cat.jpg", "3f2a9c1e-cat.jpg"),
        ("https://example.com/bucket/x/y.png?sig=1", "y.png"),
        ("s3://bucket/data/z.jpg", "z.jpg"),
        ("/image1", "image1"),
        ("folder\\win.jpg", "folder/win.jpg"),
    ],
)
def test_image_url_rule(url: str, name: str) -> None:
    assert ls.file_name_from_url(url, path="x.json", record="[0].data.image")[0] == name


@pytest.mark.parametrize(
    "url",
    ["/data/local-files/?d=../../etc/passwd", "../secret.jpg", "a/../../b.jpg", "C:/Windows/x.jpg", "/C:/x.jpg", ""],
)
def test_refuses_image_paths_escaping_the_root(tmp_path: Path, url: str) -> None:
    path = write_export(tmp_path / "tasks.json", [task(url, rect(1, 1, 5, 5)), task("ok.jpg", task_id=2)])
    with pytest.raises(InputError) as info:
        ls.read(path)
    assert info.value.record == "[0].data.image"
    result = ls.read(path, on_error="collect")
    assert result.dataset.images["file_name"].tolist() == ["ok.jpg"] and len(result.findings) == 1


def test_refuses_entities_in_label_config(tmp_path: Path) -> None:
    write_export(tmp_path / "tasks.json", [task("a.jpg", rect(1, 1, 5, 5))])
    (tmp_path / "label_config.xml").write_text('<!DOCTYPE v [<!ENTITY x "y">]><View><Label value="&x;"/></View>')
    with pytest.raises(InputError, match="DOCTYPE or ENTITY"):
        ls.read(tmp_path)


def test_reports_bad_values_with_task_and_result(tmp_path: Path) -> None:
    bad = rect(1, 1, 5, 5)
    bad["value"]["x"] = "left"
    path = write_export(tmp_path / "tasks.json", [task("a.jpg", rect(1, 1, 5, 5), bad)])
    with pytest.raises(InputError, match="bad rectanglelabels value") as info:
        ls.read(path)
    assert info.value.record == "[0].annotations[0].result[1].value"
    missing = rect(1, 1, 5, 5)
    del missing["original_width"]
    with pytest.raises(InputError, match="original_width"):
        ls.read(write_export(tmp_path / "t2.json", [task("a.jpg", missing)]))


def test_plain_and_other_rectangles_read_alike(tmp_path: Path) -> None:
    # unrotated rectangles are converted in one pass at the end, the others result by result
    rotated = rect(10, 20, 30, 40, rotation=90)
    two = rect(1, 2, 3, 4, label="dog")
    two["value"]["rectanglelabels"] = ["dog", "cat"]
    late = rect(5, 5, 10, 10, size=(400, 300))  # the image's size is its first result's
    del late["original_width"], late["original_height"]
    tasks = [task("a.jpg", rect(12.5, 25, 50, 10), rotated, two, late)]
    tasks.append(task("b.jpg", rect(0, 0, 100, 100, size=(7, 9))))
    ds = ls.read(write_export(tmp_path / "tasks.json", tasks)).dataset
    boxes = ds.boxes_xyxy()
    expected = [[25, 25, 125, 35], [2, 2, 8, 6], [2, 2, 8, 6], [10, 5, 30, 15], [0, 0, 7, 9]]
    np.testing.assert_allclose(boxes[[0, 2, 3, 4, 5]], np.array(expected))
    assert ds.annotations["attributes"].iloc[1] == {"rotation": 90.0}
    assert ds.categories["name"].reindex(ds.annotations["category_id"]).tolist()[2:4] == ["dog", "cat"]
    assert ds.annotations["segmentation"].iloc[1] is not None and ds.annotations["segmentation"].iloc[0] is None


@pytest.mark.parametrize("value", ["left", None, "inf", [1]])
def test_a_bad_value_among_plain_rectangles_is_named(tmp_path: Path, value: object) -> None:
    bad = rect(1, 1, 5, 5)
    bad["value"]["y"] = value
    tasks = [task("a.jpg", rect(1, 1, 5, 5), bad), task("b.jpg", rect(1, 1, 5, 5))]
    path = write_export(tmp_path / "tasks.json", tasks)
    with pytest.raises(InputError, match="bad rectanglelabels value") as info:
        ls.read(path)
    assert info.value.record == "[0].annotations[0].result[1].value"
    result = ls.read(path, on_error="collect")
    assert len(result.dataset.annotations) == 2
    assert [f.record for f in result.findings] == ["[0].annotations[0].result[1].value"]


def test_brush_rle_round_trip_and_bounds() -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((37, 53), dtype=bool)
    mask[5:20, 10:40] = True
    mask[rng.random(mask.shape) < 0.05] = True
    assert (ls.brush.decode(ls.brush.encode(mask), 53, 37) == mask).all()
    with pytest.raises(ValueError, match="pixel limit"):
        ls.brush.decode([0, 0, 0, 1], 100_000, 100_000)
    with pytest.raises(ValueError, match="not 3x3x4"):
        ls.brush.decode(ls.brush.encode(mask), 3, 3)


def test_brush_matches_label_studio_converter() -> None:
    brush = pytest.importorskip("label_studio_converter.brush")
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[3:9, 4:25] = 255
    theirs = brush.mask2rle(mask)
    assert (ls.brush.decode(theirs, 30, 20) == (mask > 0)).all()
    assert (brush.decode_rle(ls.brush.encode(mask > 0)).reshape(20, 30, 4)[:, :, 3] > 0).tolist() == (mask > 0).tolist()


# -- golden files --------------------------------------------------------------------------


def golden_dataset(root: Path) -> Dataset:
    """One image: a box, a rotated box, a polygon, a mask, a keypoint and a classification."""
    make_image(root / "img" / "a.jpg", 40, 20)
    mask = np.zeros((20, 40), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    from dataprep.formats.label_studio.parse import rotated_corners

    corners = rotated_corners(10.0, 4.0, 8.0, 4.0, 30.0)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    annotations = {
        "annotation_id": [1, 2, 3, 4, 5, 6],
        "image_id": [1] * 6,
        "category_id": [1, 1, 2, 2, 1, 3],
        "x_min": [2, lo[0], 1, 3, 7, np.nan],
        "y_min": [3, lo[1], 1, 2, 8, np.nan],
        "x_max": [20, hi[0], 6, 9, 7, np.nan],
        "y_max": [15, hi[1], 4, 5, 8, np.nan],
        "segmentation": [None, [corners], [np.array([[1, 1], [6, 1], [6, 4]], float)], rle_encode(mask), None, None],
        "attributes": [None, {"rotation": 30.0}, None, None, {"shape_type": "points", "points": [[7.0, 8.0]]}, None],
    }
    images = {"image_id": [1], "file_name": ["img/a.jpg"], "width": [40], "height": [20]}
    categories = {"category_id": [1, 2, 3], "name": ["cat", "dog", "indoor"]}
    return Dataset.from_frames(images, annotations, categories, root=root)


def test_writes_golden_files_byte_for_byte(tmp_path: Path) -> None:
    report = formats.write(golden_dataset(tmp_path / "src"), tmp_path / "out", "label-studio", images="none")
    assert report.lossless, report.losses
    written = tree(tmp_path / "out")
    if REGENERATE:
        for name, data in written.items():
            (GOLDEN / name).write_bytes(data)
    assert written == tree(GOLDEN)
    config = written["label_config.xml"].decode()
    for tag in ("RectangleLabels", "PolygonLabels", "BrushLabels", "KeyPointLabels", "Choices"):
        assert f"<{tag} " in config


def test_reads_golden_files_back(tmp_path: Path) -> None:
    ds = golden_dataset(tmp_path)
    back = ls.read(GOLDEN).dataset
    assert back.images["file_name"].tolist() == ["img/a.jpg"]
    assert back.categories["name"].tolist() == ds.categories["name"].tolist()
    np.testing.assert_allclose(back.boxes_xyxy(), ds.boxes_xyxy(), atol=1e-9)
    np.testing.assert_array_equal(
        rle_decode(back.annotations["segmentation"].iloc[3]), rle_decode(ds.annotations["segmentation"].iloc[3])
    )
    assert back.annotations["attributes"].iloc[1]["rotation"] == 30.0


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "atol"), [("coco", 1e-9), ("voc", 0.5), ("yolo", 1e-6 * 2800), ("cvat", 1e-9)])
def test_round_trips_keep_boxes(conformance: Path, tmp_path: Path, target: str, atol: float) -> None:
    src = ls.read(conformance / "label-studio" / "data_obb.json").dataset
    root = tmp_path / "src"
    src = src.replace(images=src.images.assign(file_name=src.images["file_name"] + ".png"))  # "/image1" has no suffix
    for name, (w, h) in zip(src.images["file_name"], src.images[["width", "height"]].to_numpy().tolist(), strict=True):
        make_image(root / name, w, h)  # YOLO needs the images for their sizes
    src = src.replace(root=root)
    report = formats.write(src, tmp_path / target, target, images="copy")
    codes = {item.code for item in report.losses}
    if target in ("voc", "yolo"):
        assert {"polygon-to-box", "attributes-dropped"} & codes  # the rotation
    back = formats.read(tmp_path / target, target)
    np.testing.assert_allclose(back.boxes_xyxy(), src.boxes_xyxy(), atol=atol)
    again = formats.write(back, tmp_path / "ls", "label-studio", images="none")
    assert len(formats.read(tmp_path / "ls", "label-studio").annotations) == 25
    if target in ("coco", "cvat"):
        assert again.lossless  # rotation travels through COCO attributes and CVAT boxes


def test_detection_picks_label_studio_not_coco(conformance: Path, tmp_path: Path) -> None:
    assert formats.detect(conformance / "label-studio" / "data.json") == [("label-studio", 0.9)]
    write_export(tmp_path / "tasks.json", [task("a.jpg", rect(1, 1, 5, 5))])
    assert formats.detect(tmp_path)[0] == ("label-studio", 0.9)
    assert formats.load(tmp_path).format == "label-studio"


def test_validate_locates_findings_in_the_export(tmp_path: Path) -> None:
    from dataprep import validate

    write_export(tmp_path / "tasks.json", [task("a.jpg", rect(1, 1, 5, 5), rect(90, 10, 20, 20))])
    findings = validate(tmp_path).findings
    outside = findings[findings["code"] == "box-outside-image"]
    assert outside[["file", "record"]].to_numpy().tolist() == [["tasks.json", "[0].annotations[0].result[1]"]]


def _columns(rows: object) -> tuple:
    xyxy = np.array(rows.xyxy, dtype=np.float64).reshape(-1, 4)
    if rows.deferred_xyxy is not None:
        xyxy[rows.deferred_rows] = rows.deferred_xyxy
    return xyxy, rows.image, rows.label, rows.attributes, rows.record, rows.width, rows.height


@pytest.mark.parametrize("export", ["data.json", "data_obb.json", "data_polygons.json", "json_min_data.json"])
def test_one_pass_matches_result_by_result_on_converter_exports(conformance: Path, export: str) -> None:
    from dataprep.formats._annotation_tools import Collector
    from dataprep.formats.label_studio.parse import Rows, parse_tasks, resolve_deferred

    tasks = json.loads((conformance / "label-studio" / export).read_text())
    fast, slow = Rows(), Rows()
    parse_tasks([tasks], export, Collector("raise"), fast)
    assert resolve_deferred(fast)
    parse_tasks([tasks], export, Collector("raise"), slow, defer=False)
    a, b = _columns(fast), _columns(slow)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:] == b[1:]
    assert export != "data.json" or fast.deferred_rows


def _outcome(tasks: list, on_error: str, *, defer: bool) -> tuple:
    """What `read` makes of `tasks` (columns, names, counts, findings) or the error it raises, as text."""
    from dataprep.formats._annotation_tools import Collector
    from dataprep.formats.label_studio.parse import Rows, parse_export, parse_tasks

    try:
        if defer:
            rows, collector = parse_export(lambda: [tasks], "tasks.json", on_error)
        else:
            rows, collector = Rows(), Collector(on_error)
            parse_tasks([tasks], "tasks.json", collector, rows, defer=False)
    except InputError as err:
        return ("error", str(err), err.record)
    xyxy, *columns = _columns(rows)
    counts = [rows.file_name, rows.task_id, rows.remote, rows.multi_annotator, rows.predictions, rows.skipped_types]
    return repr(xyxy.tolist()), repr(columns), counts, [(f.record, f.message) for f in collector.findings]


def _mixed_tasks() -> list:
    """Plain rectangles among every other kind of result, name and size."""
    rotated, choices = rect(10, 20, 30, 40, rotation=90), {"type": "choices", "value": {"choices": ["day"]}}
    two = rect(1, 2, 3, 4, label="dog")
    two["value"]["rectanglelabels"] = ["dog", "cat"]
    unsized, value_sized = rect(5, 5, 10, 10), rect(5, 5, 10, 10, size=(400, 300))
    del unsized["original_width"]
    value_sized["value"]["original_width"] = 800  # the value's own size comes first
    polygon = {"type": "polygonlabels", "original_width": 10, "original_height": 10}
    polygon["value"] = {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["cat"]}
    no_label = rect(1, 1, 2, 2)
    no_label["value"]["rectanglelabels"] = []
    tasks = [
        task("a.jpg", rect(12.5, 25, 50, 10), rotated, two, choices, rect(0, 0, 1, 1), polygon, rect(1, 1, 1, 1)),
        task("./sub//b.jpg", unsized, value_sized, rect(0, 0, 100, 100), no_label, "not a result", task_id=2),
        task("http://host/c.png?x=1", rect(1, 2, 3, 4), {"type": "rectanglelabels", "value": "?"}, task_id=3),
        {"id": 4, "data": {"image": "d.jpg"}, "annotations": [{"was_cancelled": True, "result": [rect(1, 1, 1, 1)]}]},
        {"id": 5, "data": {"image": "e.jpg"}, "predictions": [{}], "annotations": [{"result": {"x": 1}}]},
        task("f.jpg", task_id=6),
    ]
    tasks[0]["annotations"].append({"result": [rect(2, 2, 2, 2, size=(1, 1))]})  # a second annotator
    return tasks


@pytest.mark.parametrize(
    "change",
    ["none", "unsafe name", "unsafe name first", "bad value", "bad value and unsafe name after", "missing value"],
)
def test_queued_and_result_by_result_read_alike(change: str) -> None:
    tasks = _mixed_tasks()
    if "unsafe name" in change:
        tasks[-1 if change == "unsafe name" else 0]["data"]["image"] = "/data/local-files/?d=../escape.jpg"
    if "bad value" in change:
        tasks[1]["annotations"][0]["result"][2]["value"]["x"] = "left"
    if change == "bad value and unsafe name after":
        tasks[2]["data"]["image"] = "../x.png"
    if change == "missing value":
        del tasks[0]["annotations"][0]["result"][4]["value"]["y"]
    for on_error in ("raise", "collect"):
        assert _outcome(tasks, on_error, defer=True) == _outcome(tasks, on_error, defer=False)


def test_the_first_error_in_task_order_is_raised(tmp_path: Path) -> None:
    # an unsafe name is found at the end of the queued pass; a bad value in a later task must not win
    bad = rect(1, 1, 5, 5)
    bad["value"]["x"] = "left"
    tasks = [task("../a.jpg", rect(1, 1, 5, 5)), task("b.jpg", rect(1, 1, 5, 5), {"type": "rectanglelabels"})]
    with pytest.raises(InputError, match="unsafe file name") as info:
        ls.read(write_export(tmp_path / "tasks.json", tasks))
    assert info.value.record == "[0].data.image"


# -- large exports: decoded a chunk of tasks at a time -------------------------------------------

_WHOLE = ChunkSizes(min_bytes=1 << 62)  # never chunked: decoded whole
_TINY = ChunkSizes(min_bytes=0, records=2, scan_block=64)  # 2 tasks a chunk, a bracket index of 64-byte blocks


def _read_outcome(path: Path, on_error: str, sizes: ChunkSizes) -> tuple:
    """Everything `read` gives (tables, findings, notes, sources) or the error it raises, comparable."""
    try:
        result = ls.read(path, on_error=on_error, provenance=True, chunk_sizes=sizes)
    except InputError as err:
        return ("error", str(err), err.record, err.line)
    frames = [result.dataset.images, result.dataset.annotations, result.dataset.categories]
    frames += [result.image_sources, result.annotation_sources]
    tables = [(repr(df.reset_index().to_dict("list")), repr(df.dtypes.tolist())) for df in frames]
    return tables, [f.to_dict() for f in result.findings], result.notes


def _clean_export() -> list:
    """Full-export tasks of every kind of result, then JSON-MIN rows: 2 tasks a chunk with `_TINY`, no errors."""
    choices = {"type": "choices", "value": {"choices": ["day"]}}
    polygon = {"type": "polygonlabels", "original_width": 10, "original_height": 10}
    polygon["value"] = {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["cat"]}
    two = rect(1, 2, 3, 4, label="dog")
    two["value"]["rectanglelabels"] = ["dog", "cat"]
    minimal = {"id": 7, "image": "/data/local-files/?d=g.jpg", "label": [rect(10, 10, 20, 20)["value"]]}
    minimal["label"][0].update(original_width=50, original_height=40)
    return [
        task("a.jpg", rect(12.5, 25, 50, 10), rect(10, 20, 30, 40, rotation=90), choices, rect(0, 0, 1, 1), polygon),
        task("./sub//b.jpg", rect(1, 2, 3, 4), rect(5, 5, 10, 10, size=(400, 300)), task_id=2),
        task("c.jpg", two, task_id=3),
        task("http://host/d.png?x=1", rect(1, 2, 3, 4), task_id=4),
        {"id": 5, "data": {"image": "e.jpg"}, "annotations": [{"was_cancelled": True, "result": [rect(1, 1, 1, 1)]}]},
        task("f.jpg", task_id=6),
        minimal,
        {"id": 8, "image": "h.jpg", "choice": [{"choices": ["night"]}]},
    ]


# change -> the record of the error raised under on_error="raise" (None: no error)
_CHUNK_CASES = {
    "none": None,
    "every kind of odd result": "[1].annotations[0].result[0].value",
    "unsafe name in the 1st chunk": "[1].data.image",
    "unsafe name in a later chunk": "[6].data.image",
    "bad value in a later chunk": "[3].annotations[0].result[0].value",
    "bad value in the 1st chunk, unsafe name later": "[0].annotations[0].result[3].value",
    "unsafe name in a later chunk, bad value after": "[6].data.image",
    "not an object, last": "[8]",
    "json-min only": None,
    "one task object": None,
}


@pytest.mark.parametrize("change", list(_CHUNK_CASES))
@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_chunked_read_equals_whole_read(tmp_path: Path, change: str, on_error: str) -> None:
    tasks: Any = _clean_export()
    if change == "every kind of odd result":
        tasks = [*_mixed_tasks(), *tasks[6:], "x"]
    if "unsafe name in the 1st chunk" in change:
        tasks[1]["data"]["image"] = "/data/local-files/?d=../escape.jpg"
    if "unsafe name in a later chunk" in change:
        tasks[6]["image"] = "../escape.jpg"  # JSON-MIN, 4th chunk
    if "bad value in the 1st chunk" in change:
        tasks[0]["annotations"][0]["result"][3]["value"]["x"] = "left"  # a queued rectangle
    if "bad value in a later chunk" in change:
        tasks[3]["annotations"][0]["result"][0]["value"]["y"] = None
    if change == "unsafe name in a later chunk, bad value after":
        tasks[7]["choice"] = [{"choices": "night"}]  # raised at once, before the queued pass ends
    if change == "not an object, last":
        tasks.append("x")
    if change == "json-min only":
        tasks = tasks[6:8] * 3
    if change == "one task object":
        tasks = tasks[0]
    path = write_export(tmp_path / "tasks.json", tasks)
    whole = _read_outcome(path, on_error, _WHOLE)
    assert _read_outcome(path, on_error, _TINY) == whole
    assert _read_outcome(path, on_error, ChunkSizes(min_bytes=0, records=1)) == whole
    if on_error == "raise":
        assert (whole[2] if whole[0] == "error" else None) == _CHUNK_CASES[change]
    else:
        assert whole[0] != "error"


@pytest.mark.parametrize("export", ["data.json", "data_obb.json", "data_polygons.json", "json_min_data.json"])
def test_chunked_read_equals_whole_read_on_converter_exports(conformance: Path, export: str) -> None:
    path = conformance / "label-studio" / export
    assert _read_outcome(path, "raise", ChunkSizes(min_bytes=0, records=1)) == _read_outcome(path, "raise", _WHOLE)


def test_large_exports_are_decoded_a_chunk_at_a_time(tmp_path: Path) -> None:
    from dataprep.formats.label_studio.parse import load_tasks

    tasks = [*_clean_export(), "x"]
    path = write_export(tmp_path / "tasks.json", tasks)
    chunks = load_tasks(path, _TINY)
    assert [len(c) for c in chunks()] == [2, 2, 2, 2, 1]  # cut after the objects' braces: "x" comes last
    assert [t for c in chunks() for t in c] == tasks  # and again, from the first (the second pass)
    assert [len(c) for c in load_tasks(path, _WHOLE)()] == [9]
    assert [len(c) for c in load_tasks(write_export(tmp_path / "one.json", tasks[0]), _TINY)()] == [1]


@pytest.mark.parametrize(
    "broken",
    [
        "missing comma",
        "bad value, then missing comma",
        "unsafe name, then bad literal",
        "missing comma between chunks",
        "trailing comma",
        "text after the array",
        "form feed before the array",
        "truncated",
        "byte-order mark",
        "not utf-8",
        "a string",
        "white space",
    ],
)
@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_invalid_json_gives_the_same_error_chunked_or_not(tmp_path: Path, broken: str, on_error: str) -> None:
    tasks = [*_clean_export(), {"id": 9, "image": "i.jpg"}]
    if broken.startswith("bad value"):  # raised at once (a polygon is read result by result)
        tasks[0]["annotations"][0]["result"][4]["value"]["points"] = [[1, 2]]
    if broken.startswith("unsafe name"):
        tasks[0]["data"]["image"] = "../a.jpg"
    text = json.dumps(tasks, indent=1).encode()
    last = text.rindex(b'"id": 8')  # in the last chunk but one
    data = {
        "missing comma": text[:last] + text[last:].replace(b",", b"", 1),
        "bad value, then missing comma": text[:last] + text[last:].replace(b",", b"", 1),
        "unsafe name, then bad literal": text.replace(b'"id": 8', b'"id": tru'),
        "missing comma between chunks": text.replace(b'},\n {\n  "id": 3,', b'}\n {\n  "id": 3,'),  # after task 2 of 2
        "trailing comma": text[:-2] + b",\n]",
        "text after the array": text + b" 0",
        "form feed before the array": b"\f" + text,
        "truncated": text[:-20],
        "byte-order mark": b"\xef\xbb\xbf" + text,
        "not utf-8": text.replace(b"h.jpg", b"h\xff.jpg"),
        "a string": b'"tasks"',
        "white space": b" \n" * 10,
    }[broken]
    path = tmp_path / "tasks.json"
    path.write_bytes(data)
    whole = _read_outcome(path, on_error, _WHOLE)
    assert whole[0] == "error"
    assert _read_outcome(path, on_error, _TINY) == whole
    assert _read_outcome(path, on_error, ChunkSizes(min_bytes=0, records=1)) == whole
    if broken not in ("a string",):
        assert "not valid JSON" in whole[1]
    if broken in ("missing comma", "bad value, then missing comma", "unsafe name, then bad literal"):
        assert "line " in whole[1] and "char " in whole[1]  # the position in the file


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_nan_literals_are_read_with_a_note_chunked_or_not(tmp_path: Path, literal: str, on_error: str) -> None:
    """Label Studio writes exports with Python's json, which writes NaN/Infinity: read like COCO, with one note."""
    tasks = [*_clean_export(), {"id": 9, "image": "i.jpg"}]
    text = json.dumps(tasks, indent=1).encode().replace(b'"id": 8', b'"id": ' + literal.encode())
    path = tmp_path / "tasks.json"
    path.write_bytes(text)
    whole = _read_outcome(path, on_error, _WHOLE)
    assert whole[0] != "error"
    assert _read_outcome(path, on_error, _TINY) == whole
    assert _read_outcome(path, on_error, ChunkSizes(min_bytes=0, records=1)) == whole
    notes = whole[2]
    assert sum("NaN/Infinity" in n and "read with Python's json" in n for n in notes) == 1
    clean = _read_outcome(write_export(tmp_path / "clean.json", _clean_export()), on_error, _WHOLE)
    assert not any("NaN/Infinity" in n for n in clean[2])
