"""CVAT for images 1.1: Datumaro's task and project exports, golden files, rotated boxes and masks,
round trips through COCO/VOC/YOLO, and hostile input (entities, video exports, escaping names)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import make_image

from dataprep import formats
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError
from dataprep.formats import cvat
from dataprep.geometry import rle_decode, rle_encode

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "cvat"
REGENERATE = os.environ.get("DATAPREP_REGENERATE_GOLDEN") == "1"
HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


def cvat_xml(path: Path, images: str, meta: str = "", *, head: str = HEAD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}<annotations><version>1.1</version><meta>{meta}</meta>{images}</annotations>\n")
    return path


# -- conformance: Datumaro's CVAT assets ----------------------------------------------------------


def test_reads_task_export(conformance: Path) -> None:
    result = cvat.read(conformance / "datumaro" / "cvat_dataset" / "for_images" / "export_task")
    ds = result.dataset
    assert ds.images["file_name"].tolist() == ["images/img0.jpg", "images/img1.jpg"]
    assert ds.images[["width", "height"]].to_numpy().tolist() == [[8, 8], [10, 10]]
    assert ds.images["split"].tolist() == ["train", "train"]  # Datumaro names the subset after train.xml
    assert ds.categories["name"].tolist() == ["label1", "label2"]
    box, points = ds.annotations.iloc[0], ds.annotations.iloc[1]
    assert box[BOX_COLUMNS].tolist() == [0.0, 2.0, 4.0, 4.0]
    assert box["attributes"] == {"occluded": True, "z_order": 1, "a1": True, "a2": "v3", "a3": "0003", "a4": 2.4}
    assert points["attributes"]["shape_type"] == "points" and points["attributes"]["z_order"] == 2
    assert points[BOX_COLUMNS].tolist() == [1.0, 2.0, 5.0, 6.0]
    assert any("2 shapes without a label" in n for n in result.notes)  # the polyline and polygon with label=""
    specs = ds.categories["attributes"].iloc[0]["attributes"]
    assert [s["input_type"] for s in specs] == ["checkbox", "radio", "text", "number"]


def test_reads_project_export_subsets(conformance: Path) -> None:
    result = cvat.read(conformance / "datumaro" / "cvat_dataset" / "for_images" / "export_project")
    ds = result.dataset
    assert ds.images["split"].tolist() == ["test", "test", "train", "train", "val", "val"]
    assert ds.images["file_name"].tolist()[2] == "images/Train/img0.jpg"
    assert all((ds.root / n).is_file() for n in ds.images["file_name"])
    assert len(ds.annotations) == 12
    polygon = ds.annotations.iloc[2]
    assert polygon["segmentation"][0].tolist() == [[1, 2], [3, 4], [6, 5]]
    # label attributes not on the shape get <meta>'s defaults
    assert polygon["attributes"] == {"z_order": 1, "a1": False, "a2": "v1", "a3": "0000", "a4": 0}


# -- golden files ------------------------------------------------------------------------------


def golden_dataset(root: Path) -> Dataset:
    """Two images in two splits: a box with attributes, a rotated box, a polygon, a mask, a polyline, a tag."""
    make_image(root / "a.jpg", 40, 30)
    make_image(root / "b.png", 20, 10)
    mask = np.zeros((10, 20), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    mask[7, 0] = 1
    from dataprep.formats.cvat.parse import rotated_corners

    corners = rotated_corners((10.0, 10.0, 20.0, 14.0), 30.0)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    images = {
        "image_id": [1, 2],
        "file_name": ["a.jpg", "b.png"],
        "width": [40, 20],
        "height": [30, 10],
        "split": ["train", "val"],
    }
    annotations = {
        "annotation_id": [1, 2, 3, 4, 5, 6],
        "image_id": [1, 1, 1, 2, 2, 2],
        "category_id": [1, 1, 2, 2, 1, 2],
        "x_min": [2.5, lo[0], 1, 0, 1, np.nan],
        "y_min": [3, lo[1], 1, 2, 1, np.nan],
        "x_max": [20, hi[0], 6, 9, 5, np.nan],
        "y_max": [25.25, hi[1], 4, 8, 3, np.nan],
        "segmentation": [None, [corners], [np.array([[1, 1], [6, 1], [6, 4]], float)], rle_encode(mask), None, None],
        "attributes": [
            {"occluded": True, "z_order": 2, "color": "red", "parked": False},
            {"rotation": 30.0},
            {"group_id": 4},
            None,
            {"shape_type": "polyline", "points": [[1.0, 1.0], [5.0, 3.0]]},
            None,
        ],
    }
    categories = {"category_id": [1, 2], "name": ["car", "road & sky"]}
    return Dataset.from_frames(images, annotations, categories, root=root)


def test_writes_golden_file_byte_for_byte(tmp_path: Path) -> None:
    report = formats.write(golden_dataset(tmp_path / "src"), tmp_path / "out", "cvat", images="none")
    assert report.lossless, report.losses
    data = (tmp_path / "out" / "annotations.xml").read_bytes()
    if REGENERATE:
        (GOLDEN / "annotations.xml").write_bytes(data)
    assert data == (GOLDEN / "annotations.xml").read_bytes()
    assert b'rotation="30.0"' in data and b"<tag " in data and b"<mask " in data


def test_reads_golden_file_back(tmp_path: Path) -> None:
    ds = golden_dataset(tmp_path)
    back = cvat.read(GOLDEN).dataset
    np.testing.assert_allclose(back.boxes_xyxy(), ds.boxes_xyxy(), atol=1e-12)
    assert back.images["split"].tolist() == ["train", "val"]
    attrs = back.annotations["attributes"].tolist()
    assert attrs[0] == {"occluded": True, "z_order": 2, "color": "red", "parked": False}
    assert attrs[1]["rotation"] == 30.0 and attrs[2] == {"group_id": 4}
    assert attrs[4]["color"] == "" and attrs[4]["parked"] is False  # <meta> defaults for car
    np.testing.assert_array_equal(
        rle_decode(back.annotations["segmentation"].iloc[3]), rle_decode(ds.annotations["segmentation"].iloc[3])
    )
    np.testing.assert_allclose(
        back.annotations["segmentation"].iloc[1][0], ds.annotations["segmentation"].iloc[1][0], atol=1e-9
    )


def test_mask_rle_decodes_row_major_from_background() -> None:
    crop = cvat.decode_mask([1, 2, 3, 1], 3, 3)  # 7 of 9 pixels coded: the rest is background
    assert crop.astype(int).tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    from dataprep.formats.cvat.write import mask_counts

    assert mask_counts(crop) == [1, 2, 3, 1, 2]


# -- round trips and losses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "atol", "losses"),
    [
        ("coco", 0.0, set()),
        ("voc", 0.5, {"coordinates-rounded", "polygon-to-box", "mask-to-box"}),
        ("yolo", 1e-6 * 40, {"polygon-to-box", "attributes-dropped", "image-label-dropped"}),
    ],
)
def test_round_trips_keep_boxes(tmp_path: Path, target: str, atol: float, losses: set[str]) -> None:
    src = golden_dataset(tmp_path / "src")
    report = formats.write(src, tmp_path / target, target, images="copy")
    assert losses <= {item.code for item in report.losses}
    back = formats.read(tmp_path / target, target)
    boxed = src.annotations["x_min"].notna().to_numpy()
    got = back.boxes_xyxy()
    got = got[~np.isnan(got[:, 0])]
    np.testing.assert_allclose(got, src.boxes_xyxy()[boxed], atol=atol)


def test_rotation_is_a_loss_where_the_target_cannot_hold_it(tmp_path: Path) -> None:
    ds = golden_dataset(tmp_path)
    assert not {item.code for item in formats.plan(ds, "cvat")}
    yolo_codes = {item.code for item in formats.plan(ds, "yolo")}
    assert {"polygon-to-box", "attributes-dropped"} <= yolo_codes  # the rotated box keeps only its extent
    ls_codes = {item.code for item in formats.plan(ds, "label-studio")}
    assert "polyline-to-box" in ls_codes and "split-dropped" in ls_codes


# -- hostile input and errors -----------------------------------------------------------------


def test_refuses_entity_expansion(tmp_path: Path) -> None:
    bomb = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
    image = '<image id="0" name="a.jpg" width="4" height="4"><tag label="&lol2;"/></image>'
    cvat_xml(tmp_path / "annotations.xml", image, head=HEAD + bomb)
    with pytest.raises(InputError, match="DOCTYPE or ENTITY"):
        cvat.read(tmp_path / "annotations.xml")


def test_refuses_video_exports(tmp_path: Path) -> None:
    cvat_xml(
        tmp_path / "annotations.xml",
        '<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="2"/></track>',
    )
    with pytest.raises(InputError, match="video export") as info:
        cvat.read(tmp_path)
    assert "CVAT for images" in str(info.value.hint)


def test_refuses_image_names_leaving_the_folder(tmp_path: Path) -> None:
    images = (
        '<image id="0" name="../../etc/passwd" width="4" height="4"/><image id="1" name="ok.jpg" width="4" height="4"/>'
    )
    cvat_xml(tmp_path / "annotations.xml", images)
    with pytest.raises(InputError, match="unsafe file name") as info:
        cvat.read(tmp_path)
    assert info.value.record == "image[1]@name"
    result = cvat.read(tmp_path, on_error="collect")
    assert (
        result.dataset.images["file_name"].tolist() == ["images/ok.jpg"]
        and result.findings[0].code == "unsafe-file-name"
    )


def test_reports_bad_geometry_with_element_path(tmp_path: Path) -> None:
    images = (
        '<image id="0" name="a.jpg" width="4" height="4"><box label="x" xtl="1" ytl="oops" xbr="2" ybr="2"/></image>'
    )
    cvat_xml(tmp_path / "annotations.xml", images)
    with pytest.raises(InputError, match="bad <box> geometry") as info:
        cvat.read(tmp_path)
    assert info.value.record == "image[1]/box[1]"


def test_plain_and_other_boxes_read_alike(tmp_path: Path) -> None:
    # plain boxes are converted in one pass at the end, the others shape by shape: same order and values
    meta = "<labels><label><name>y</name><attributes><attribute><name>a</name><input_type>text</input_type>"
    meta += "<default_value>d</default_value></attribute></attributes></label></labels>"
    images = (
        '<image id="0" name="a.jpg" width="40" height="40">'
        '<box label="x" occluded="0" z_order="0" xtl="1.5" ytl="2" xbr="3" ybr="4.25"/>'
        '<box label="x" occluded="1" xtl="1" ytl="2" xbr="3" ybr="4"/>'
        '<box label="y" xtl="5" ytl="6" xbr="7" ybr="8"/>'
        '<box label="x" z_order="2" xtl="1" ytl="1" xbr="2" ybr="2"/>'
        '<box label="x" xtl="nan" ytl="1" xbr="2" ybr="2"/></image>'
    )
    cvat_xml(tmp_path / "annotations.xml", images, meta)
    ds = cvat.read(tmp_path).dataset
    expected = [[1.5, 2, 3, 4.25], [1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 2, 2], [np.nan, 1, 2, 2]]
    np.testing.assert_array_equal(ds.boxes_xyxy(), np.array(expected))
    attrs = [None, {"occluded": True}, {"a": "d"}, {"z_order": 2}, None]
    assert ds.annotations["attributes"].tolist() == attrs


@pytest.mark.parametrize("bad", ['xtl="oops"', 'xtl=""', ""])
def test_a_bad_coordinate_among_plain_boxes_is_named(tmp_path: Path, bad: str) -> None:
    images = (
        '<image id="0" name="a.jpg" width="4" height="4"><box label="x" xtl="0" ytl="0" xbr="2" ybr="2"/>'
        f'<box label="x" {bad} ytl="1" xbr="2" ybr="2"/></image>'
        '<image id="1" name="b.jpg" width="4" height="4"><box label="x" xtl="0" ytl="0" xbr="2" ybr="2"/></image>'
    )
    cvat_xml(tmp_path / "annotations.xml", images)
    with pytest.raises(InputError, match="bad <box> geometry") as info:
        cvat.read(tmp_path)
    assert info.value.record == "image[1]/box[2]"
    result = cvat.read(tmp_path, on_error="collect")
    assert len(result.dataset.annotations) == 2 and [f.record for f in result.findings] == ["image[1]/box[2]"]


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "annotations.xml").write_text("<annotations>\n<image id='0' name='a.jpg'>\n</annotations>\n")
    with pytest.raises(InputError, match="malformed XML") as info:
        cvat.read(tmp_path)
    assert info.value.line == 3


def test_detection_tells_cvat_from_voc(conformance: Path) -> None:
    base = conformance / "datumaro" / "cvat_dataset" / "for_images"
    assert formats.detect(base / "export_project")[0][0] == "cvat"
    assert formats.detect(base / "export_task" / "train.xml")[0] == ("cvat", 0.95)
    assert "cvat" not in dict(formats.detect(Path(__file__).resolve().parents[1] / "golden" / "voc"))


def test_provenance_names_file_and_element(conformance: Path) -> None:
    result = cvat.read(conformance / "datumaro" / "cvat_dataset" / "for_images" / "export_project", provenance=True)
    assert result.annotation_sources["record"].tolist()[:2] == ["image[1]/box[1]", "image[1]/polyline[1]"]
    assert set(result.image_sources["file"]) == {"annotations.xml"}


def test_validate_locates_findings_in_the_xml(tmp_path: Path) -> None:
    from dataprep import validate

    images = (
        '<image id="0" name="a.jpg" width="10" height="10"><box label="car" xtl="1" ytl="1" xbr="20" ybr="5"/></image>'
    )
    cvat_xml(tmp_path / "annotations.xml", images, "<task><labels><label><name>car</name></label></labels></task>")
    findings = validate(tmp_path).findings
    outside = findings[findings["code"] == "box-outside-image"]
    assert outside[["file", "record"]].to_numpy().tolist() == [["annotations.xml", "image[1]/box[1]"]]


def test_points_survive_labelme_and_split_in_label_studio(conformance: Path, tmp_path: Path) -> None:
    src = conformance / "datumaro" / "cvat_dataset" / "for_images" / "export_project"
    formats.convert(src, tmp_path / "lm", to="labelme", images="none")
    back = formats.read(tmp_path / "lm", "labelme")
    assert len(back.annotations) == 12  # a 3-point <points> is 3 LabelMe points sharing a group_id, read as one
    assert back.annotations["attributes"].iloc[3]["points"] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    report = formats.convert(src, tmp_path / "ls", to="label-studio", images="none").written
    assert "points-split" in {item.code for item in report.losses}


def _columns(rows: object) -> tuple:
    xyxy = np.array(rows.xyxy, dtype=np.float64).reshape(-1, 4)
    if rows.deferred_xyxy is not None:
        xyxy[rows.deferred_rows] = rows.deferred_xyxy
    return xyxy, rows.image, rows.label, rows.attributes, rows.record, rows.segmentation


@pytest.mark.parametrize("export", ["export_task", "export_project", "golden"])
def test_one_pass_matches_shape_by_shape_on_datumaro_exports(conformance: Path, export: str) -> None:
    from dataprep.formats.cvat import Collector, _parse_files, resolve_deferred, resolve_layout

    folder = GOLDEN if export == "golden" else conformance / "datumaro" / "cvat_dataset" / "for_images" / export
    layout = resolve_layout(folder)
    fast = _parse_files(layout, Collector("raise"), defer=True)
    assert resolve_deferred(fast)  # (these labels all have attribute specs: their boxes are never plain)
    a, b = _columns(fast), _columns(_parse_files(layout, Collector("raise"), defer=False))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:5] == b[1:5]
    for seg_a, seg_b in zip(a[5], b[5], strict=True):
        assert type(seg_a) is type(seg_b)
        if isinstance(seg_a, list):
            assert all(np.array_equal(p, q) for p, q in zip(seg_a, seg_b, strict=True))
        else:
            assert seg_a == seg_b


# -- the bulk path (`bulk.scan`): the same rows as the tree, or no bulk path at all ---------------

_PLAIN = '<box label="x" source="manual" occluded="0" z_order="0" xtl="1.5" ytl="2" xbr="3" ybr="4.25"/>'
_X = '"x"'
_SPEC_META = (
    "<labels><label><name>x</name></label><label><name>y</name><attributes><attribute><name>a</name>"
    "<input_type>text</input_type><default_value>d</default_value></attribute></attributes></label></labels>"
)
_VARIANTS = {  # name: (images, bulk path taken)
    "plain": (f'<image id="0" name="a.jpg" width="40" height="30">{_PLAIN}{_PLAIN}</image>', True),
    "cvat order, empty images, open boxes, white space": (
        '<image id="0" name="a b.jpg" subset="Train" task_id="1" width="40" height="30">\n'
        '  <box label="é" source="auto" occluded="0" xtl="1" ytl="2" xbr="3" ybr="4" z_order="0">\n  </box>\n'
        '  <box label="x" occluded="0" xtl="-1e2" ytl="+2." xbr="3" ybr="4" z_order="0"></box>\n</image>\n'
        '<image id="1" name="./sub/c.jpg" width="0" height="x"/>\n<image name="d.jpg">\r\n</image>',
        True,
    ),
    "occluded": ('<image name="a.jpg">' + _PLAIN + _PLAIN.replace('occluded="0"', 'occluded="1"') + "</image>", False),
    "rotation": ('<image name="a.jpg">' + _PLAIN.replace("/>", ' rotation="30"/>') + "</image>", False),
    "entity": ('<image name="a&amp;b.jpg">' + _PLAIN.replace(_X, '"x&lt;"') + "</image>", False),
    "comment": (f'<image name="a.jpg">{_PLAIN}</image><!-- c --><image name="b.jpg"/>', False),
    "label with attribute specs": ('<image name="a.jpg">' + _PLAIN.replace(_X, '"y"') + _PLAIN + "</image>", True),
    "namespace": (f'<image xmlns="urn:x" name="a.jpg">{_PLAIN}</image><image name="b.jpg">{_PLAIN}</image>', False),
    "namespace on every image": (
        f'<image xmlns="urn:x" name="a.jpg">{_PLAIN}</image><image xmlns="urn:x" name="b.jpg">{_PLAIN}</image>',
        False,
    ),
    "same attributes on every image": (
        f'<image name="a.jpg" subset="Train" width="4">{_PLAIN}</image><image name="b.jpg" subset="x" width="-1"/>',
        True,
    ),
    "unclosed images (the scan stays linear)": (f'<image name="a.jpg">{_PLAIN}' * 3000, False),
    "tab in a value": (f'<image name="a\tb.jpg">{_PLAIN}</image>', False),
    "polygon": (f'<image name="a.jpg">{_PLAIN}<polygon label="x" points="0,0;1,0;1,1"/></image>', False),
    "empty label": ('<image name="a.jpg">' + _PLAIN.replace(_X, '""') + "</image>", False),
    "attribute element": (f'<image name="a.jpg">{_PLAIN[:-2]}><attribute name="a">1</attribute></box></image>', False),
    "text": (f'<image name="a.jpg">{_PLAIN} text </image>', False),
    "unsafe name": (f'<image name="../a.jpg">{_PLAIN}</image><image name="b.jpg">{_PLAIN}</image>', True),
    "bad number": (f'<image name="a.jpg">{_PLAIN}{_PLAIN.replace("1.5", "1.2.3")}</image>', True),
    "not a decimal number": (f'<image name="a.jpg">{_PLAIN}{_PLAIN.replace("1.5", " 1.5")}</image>', False),
    "duplicate attribute": (f'<image name="a.jpg" name="b.jpg">{_PLAIN}</image>', False),
    "track after the images": (f'<image name="a.jpg">{_PLAIN}</image><track id="0" label="x"/>', False),
}


def _outcome(folder: Path, on_error: str, *, defer: bool) -> tuple:
    """Everything a read gives (columns, counts, findings), or the error it raises; NaN and arrays as text."""
    from dataprep.formats.cvat import Collector, _parse_files, resolve_deferred, resolve_layout

    try:
        collector = Collector(on_error)
        rows = _parse_files(resolve_layout(folder), collector, defer=defer)
        if defer and not resolve_deferred(rows):
            collector = Collector(on_error)
            rows = _parse_files(resolve_layout(folder), collector, defer=False)
    except InputError as err:
        return ("error", str(err), err.record)
    xyxy, *columns = _columns(rows)
    counts = [getattr(rows, k) for k in ("file_name", "width", "height", "split", "source", "missing_files")]
    counts += [rows.unlabelled, rows.skipped, [(f.record, f.message) for f in collector.findings]]
    return repr(xyxy.tolist()), repr(columns), counts


@pytest.mark.parametrize("variant", list(_VARIANTS))
def test_bulk_path_reads_like_the_tree(tmp_path: Path, variant: str) -> None:
    from dataprep.formats.cvat import bulk

    images, bulk_path = _VARIANTS[variant]
    xml = cvat_xml(tmp_path / "annotations.xml", images, _SPEC_META)
    (tmp_path / "images" / "Train").mkdir(parents=True)
    (tmp_path / "images" / "Train" / "a b.jpg").write_bytes(b"")
    assert (bulk.scan(xml.read_bytes()) is not None) == bulk_path
    for on_error in ("raise", "collect"):
        assert _outcome(tmp_path, on_error, defer=True) == _outcome(tmp_path, on_error, defer=False)


def test_the_first_error_in_document_order_is_raised(tmp_path: Path) -> None:
    # a bad coordinate among plain boxes is found at the end of the queued pass: a later bad polygon must not win
    images = (
        '<image id="0" name="a.jpg"><box label="x" xtl="oops" ytl="0" xbr="2" ybr="2"/></image>'
        '<image id="1" name="b.jpg"><polygon label="x" points="0,0;1,1"/></image>'
    )
    cvat_xml(tmp_path / "annotations.xml", images)
    with pytest.raises(InputError, match="bad <box> geometry") as info:
        cvat.read(tmp_path)
    assert info.value.record == "image[1]/box[1]"
