"""COCO reader/writer: conformance files, golden bytes, round trips, pycocotools, user errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from conftest import make_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataprep import geometry
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError, OutputError, UsageError
from dataprep.formats import _json_chunks, coco, load
from dataprep.formats import write as write_dataset
from dataprep.formats._json_chunks import ChunkSizes
from dataprep.formats.base import image_layout

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "coco"


def dump(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def small_doc() -> dict[str, Any]:
    """2 images, 3 boxes, 2 sparse categories."""
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
            {"id": 2, "file_name": "b.jpg", "width": 32, "height": 32},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [0.5, 0.5, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [0, 0, 32, 32], "area": 1024, "iscrowd": 0},
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 9, "name": "dog"}],
    }


# -- conformance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "names"),
    [("coco_instances", ["images/train/a.jpg", "images/val/b.jpg"]), ("coco_roboflow", ["train/a.jpg", "val/b.jpg"])],
)
def test_reads_datumaro_conformance(conformance: Path, folder: str, names: list[str]) -> None:
    result = coco.read(conformance / "datumaro" / "coco_dataset" / folder)
    ds = result.dataset
    assert not result.findings
    assert ds.images.index.tolist() == [5, 40]
    assert ds.images["file_name"].tolist() == names
    assert ds.images["split"].tolist() == ["train", "val"]
    assert ds.images[["width", "height"]].to_numpy().tolist() == [[10, 5], [5, 10]]
    assert (ds.root / names[0]).is_file()
    assert ds.categories.index.tolist() == [1, 2, 4]
    assert ds.categories["name"].tolist() == ["a", "b", "c"]
    anns = ds.annotations
    assert len(anns) == 3 and anns.index.is_unique
    assert any("annotation ids collide" in n for n in result.notes)
    box = anns[anns["image_id"] == 5]
    assert box["category_id"].tolist() == [2]
    np.testing.assert_array_equal(box[BOX_COLUMNS].to_numpy(), [[2, 2, 5, 3]])
    assert box["segmentation"].iat[0] is None and box["area"].iat[0] == 3.0
    val = anns[anns["image_id"] == 40]
    polygon = val[val["category_id"] == 1].iloc[0]
    np.testing.assert_array_equal(polygon[BOX_COLUMNS].to_numpy(dtype=float), [0, 0, 1, 2])
    np.testing.assert_array_equal(polygon["segmentation"][0], [[0, 0], [1, 0], [1, 2], [0, 2]])
    assert polygon["attributes"] == {"x": 1, "y": "hello"}
    assert not polygon["iscrowd"]
    crowd = val[val["category_id"] == 2].iloc[0]
    assert crowd["iscrowd"] and crowd["segmentation"] == {"counts": [0, 20, 30], "size": [10, 5]}
    np.testing.assert_array_equal(crowd[BOX_COLUMNS].to_numpy(dtype=float), [0, 0, 1, 9])
    assert set(ds.info) == {"licenses", "info"}
    assert ds.images["attributes"].iat[0] == {"license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}


def test_registry_detects_and_loads_coco(conformance: Path) -> None:
    result = load(conformance / "datumaro" / "coco_dataset" / "coco_instances")
    assert result.format == "coco" and result.notes[0] == "detected format: coco"


def test_detect(conformance: Path, tmp_path: Path) -> None:
    base = conformance / "datumaro" / "coco_dataset"
    assert coco.detect(base / "coco_instances") == pytest.approx(0.95)
    assert coco.detect(base / "coco_roboflow") == pytest.approx(0.95)
    assert coco.detect(base / "coco_instances" / "annotations" / "instances_val.json") == pytest.approx(0.9)
    assert coco.detect(base / "coco_roboflow" / "val") == pytest.approx(0.9)
    assert (
        coco.detect(dump(tmp_path / "results.json", [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}])) is None
    )
    assert coco.detect(dump(tmp_path / "other" / "config.json", {"lr": 0.1})) is None
    assert coco.detect(tmp_path / "other") is None
    assert coco.detect(conformance / "datumaro" / "voc_dataset" / "voc_dataset1") is None
    lone = tmp_path / "lone"
    dump(lone / "labels.json", small_doc())
    assert coco.detect(lone) == pytest.approx(0.6)


# -- golden files -------------------------------------------------------------------------


def test_golden_canonical_file_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    ds = coco.read(GOLDEN / "canonical").dataset
    write_dataset(ds, tmp_path / "out", "coco", images="none")
    for name in ("instances_train.json", "instances_val.json"):
        expected = (GOLDEN / "canonical" / "annotations" / name).read_bytes()
        assert (tmp_path / "out" / "annotations" / name).read_bytes() == expected


def test_golden_source_gives_canonical_output(tmp_path: Path) -> None:
    """A pretty-printed export in pycocotools' key order, with float noise traps, ints and extras."""
    result = coco.read(GOLDEN / "source")
    report = write_dataset(result.dataset, tmp_path / "out", "coco", images="none")
    assert [loss.code for loss in report.losses] == ["image-size-unknown"]
    assert report.losses[0].examples == [3]
    for name in ("instances_train.json", "instances_val.json"):
        expected = (GOLDEN / "canonical" / "annotations" / name).read_bytes()
        assert (tmp_path / "out" / "annotations" / name).read_bytes() == expected


def test_written_files_follow_the_coco_schema(tmp_path: Path) -> None:
    from dataprep.validation.schema import document_findings

    write_dataset(coco.read(GOLDEN / "source").dataset, tmp_path / "out", "coco", images="none")
    for path in sorted((tmp_path / "out" / "annotations").glob("*.json")):
        assert document_findings(json.loads(path.read_text()), "coco", path=path) == []


def test_golden_source_details() -> None:
    ds = coco.read(GOLDEN / "source").dataset
    anns = ds.annotations
    # bbox [0.1, 0.2, 0.3, 0.4] is stored as xyxy; the writer undoes the float noise of 0.1 + 0.3.
    np.testing.assert_array_equal(anns.loc[10, BOX_COLUMNS].to_numpy(dtype=float), [0.1, 0.2, 0.1 + 0.3, 0.2 + 0.4])
    assert anns.loc[10, "score"] == 0.875
    # no bbox: the box of the polygon's parts; no area: NaN until the writer computes it
    np.testing.assert_array_equal(anns.loc[13, BOX_COLUMNS].to_numpy(dtype=float), [10.5, 10.5, 80, 90])
    assert math.isnan(anns.loc[13, "area"])
    assert anns.loc[12, "attributes"] == {coco.EXTRA_KEY: {"num_keypoints": 2, "keypoints": [12, 22, 2, 30, 40, 1]}}
    assert anns.loc[11, "attributes"] == {"occluded": False, "color": "red"}
    assert anns.loc[21, "attributes"] == {}
    assert anns.loc[15, "image_id"] == 999  # dangling: kept for validation to report
    assert ds.categories.loc[7, "attributes"] == {"keypoints": ["left", "right"], "skeleton": [[1, 2]]}
    assert ds.categories.loc[3, "name"] == "çà va"
    assert ds.images.loc[2, "file_name"] == "images/train/été/café.png"
    assert pd.isna(ds.images.loc[3, "width"])
    assert ds.info["type"] == "instances" and list(ds.info) == ["info", "licenses", "type"]


def test_output_loads_in_pycocotools_with_matching_areas(tmp_path: Path) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    ds = coco.read(GOLDEN / "source").dataset
    write_dataset(ds, tmp_path / "out", "coco", images="none")
    ref = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    anns = ds.annotations
    assert sorted(ref.getAnnIds()) == sorted(anns.index[anns["image_id"] != 5].tolist())
    assert ref.getCatIds() == [1, 3, 7]
    for ann_id, ann in ref.anns.items():
        row = anns.loc[ann_id]
        x, y, w, h = ann["bbox"]
        np.testing.assert_allclose([x, y, x + w, y + h], row[BOX_COLUMNS].to_numpy(dtype=float), rtol=0, atol=1e-9)
        if not math.isnan(row["area"]):
            assert ann["area"] == row["area"]
        elif ann["image_id"] in ref.imgs and "height" in ref.imgs[ann["image_id"]]:
            # the area we computed is pycocotools' own mask area
            assert ann["area"] == float(mask_utils.area(ref.annToRLE(ann)))
    assert ref.anns[13]["area"] == 1100.0


# -- round trips --------------------------------------------------------------------------

names = st.text(alphabet="abcé ñ日-_()", min_size=1, max_size=8).map(lambda s: s.strip() or "x")
finite = st.floats(min_value=-50, max_value=5000, allow_nan=False, allow_infinity=False)
attr_values = st.one_of(st.integers(-5, 5), st.text(max_size=4), st.booleans(), st.none())


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    n_images = draw(st.integers(0, 5))
    image_ids = draw(st.lists(st.integers(1, 10**9), min_size=n_images, max_size=n_images, unique=True))
    stems = draw(st.lists(names, min_size=n_images, max_size=n_images, unique=True))
    sub = draw(st.booleans())
    file_names = [f"{'sub/' if sub and i % 2 else ''}{s}.jpg" for i, s in enumerate(stems)]
    with_splits = draw(st.booleans())
    splits = [draw(st.sampled_from(["train", "val", "test2017"])) if with_splits else np.nan for _ in image_ids]
    sizes = [draw(st.one_of(st.none(), st.tuples(st.integers(1, 4000), st.integers(1, 4000)))) for _ in image_ids]
    image_attrs = [draw(st.one_of(st.none(), st.fixed_dictionaries({"license": st.integers(0, 3)}))) for _ in image_ids]
    n_cats = draw(st.integers(1, 4))
    cat_ids = draw(st.lists(st.integers(0, 10**6), min_size=n_cats, max_size=n_cats, unique=True))
    cat_names = draw(st.lists(names, min_size=n_cats, max_size=n_cats, unique=True))
    sup = [draw(st.one_of(st.none(), names)) for _ in cat_ids]
    n_anns = draw(st.integers(0, 8)) if image_ids else 0
    rows = []
    for ann_id in draw(st.lists(st.integers(1, 10**9), min_size=n_anns, max_size=n_anns, unique=True)):
        x, y = draw(finite), draw(finite)
        w, h = draw(st.floats(0, 3000)), draw(st.floats(0, 3000))
        kind = draw(st.sampled_from(["none", "polygon", "rle", "rle-list"]))
        if kind == "polygon":
            seg: Any = [np.array(draw(st.lists(st.tuples(finite, finite), min_size=3, max_size=5)), dtype=float)]
        elif kind == "rle":
            mask = np.array(draw(st.lists(st.booleans(), min_size=12, max_size=12)), np.uint8).reshape(3, 4)
            seg = geometry.rle_encode(mask)
        elif kind == "rle-list":
            seg = {"size": [2, 3], "counts": [1, 4, 1]}
        else:
            seg = None
        rows.append(
            {
                "annotation_id": ann_id,
                "image_id": draw(st.sampled_from(image_ids)),
                "category_id": draw(st.sampled_from(cat_ids)),
                "x_min": x,
                "y_min": y,
                "x_max": x + w,
                "y_max": y + h,
                "segmentation": seg,
                "iscrowd": draw(st.booleans()),
                "score": draw(st.one_of(st.just(np.nan), st.floats(0, 1))),
                "area": draw(st.floats(0, 1e6)),
                "attributes": draw(
                    st.one_of(st.none(), st.dictionaries(st.sampled_from("abc"), attr_values, max_size=2))
                ),
            }
        )
    images = {
        "image_id": image_ids,
        "file_name": file_names,
        "width": [s[0] if s else pd.NA for s in sizes],
        "height": [s[1] if s else pd.NA for s in sizes],
        "split": splits,
        "attributes": image_attrs,
    }
    annotations = pd.DataFrame(rows, columns=["annotation_id", *coco_columns()])
    categories = {"category_id": cat_ids, "name": cat_names, "supercategory": [np.nan if s is None else s for s in sup]}
    info = draw(st.one_of(st.just({}), st.just({"info": {"year": 2024}, "licenses": [{"id": 1, "name": "x"}]})))
    return Dataset.from_frames(images, annotations, categories, info=info)


def coco_columns() -> list[str]:
    from dataprep.dataset import ANNOTATION_COLUMNS

    return list(ANNOTATION_COLUMNS)


def assert_same_segmentation(a: Any, b: Any) -> None:
    if a is None or isinstance(a, dict):
        assert a == b
        return
    assert len(a) == len(b)
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(ds=datasets())
def test_round_trip_random_datasets(tmp_path_factory: pytest.TempPathFactory, ds: Dataset) -> None:
    out = tmp_path_factory.mktemp("rt") / "out"
    write_dataset(ds, out, "coco", images="none")
    back = coco.read(out).dataset
    layout = image_layout(ds)
    expected_names = [
        f"images/{s}/{n}" if s else f"images/{n}" for s, n in zip(layout["split"], layout["name"], strict=True)
    ]
    assert back.images["file_name"].tolist() == expected_names
    pd.testing.assert_frame_equal(back.images.drop(columns="file_name"), ds.images.drop(columns="file_name"))
    pd.testing.assert_frame_equal(back.categories, ds.categories)
    assert back.info == ds.info
    a, b = ds.annotations, back.annotations
    assert a.index.tolist() == b.index.tolist()
    plain = [c for c in a.columns if c not in ("segmentation", "attributes")]
    pd.testing.assert_frame_equal(b[plain], a[plain])  # boxes exactly: float noise of xywh is undone
    assert b["attributes"].tolist() == a["attributes"].tolist()
    for sa, sb in zip(a["segmentation"], b["segmentation"], strict=True):
        assert_same_segmentation(sa, sb)


def test_round_trip_with_image_files(small_dataset: Dataset, tmp_path: Path) -> None:
    report = write_dataset(small_dataset, tmp_path / "out", "coco")
    assert report.images_transferred == 3 and report.images_missing == 0
    assert report.lossless
    result = coco.read(tmp_path / "out")
    back = result.dataset
    assert not any("not found" in n for n in result.notes)
    assert back.images["file_name"].tolist() == [
        "images/train/a.jpg",
        "images/train/sub dir/b é.png",
        "images/val/c.jpg",
    ]
    for name in back.images["file_name"]:
        assert (tmp_path / "out" / name).is_file()
    pd.testing.assert_frame_equal(back.annotations[BOX_COLUMNS], small_dataset.annotations[BOX_COLUMNS])
    # area was not stated: the writer put the box area
    np.testing.assert_allclose(back.annotations["area"], [100, 24.5 * 33.75, 32 * 32, 4])


def test_dataset_without_splits_round_trips(small_dataset: Dataset, tmp_path: Path) -> None:
    ds = small_dataset.replace(images=small_dataset.images.assign(split=np.nan))
    write_dataset(ds, tmp_path / "out", "coco")
    assert sorted(p.name for p in (tmp_path / "out" / "annotations").iterdir()) == ["instances_default.json"]
    back = coco.read(tmp_path / "out").dataset
    assert back.images["split"].isna().all()
    assert back.images["file_name"].tolist() == ["images/a.jpg", "images/sub dir/b é.png", "images/c.jpg"]


# -- layouts --------------------------------------------------------------------------------


def test_odd_file_names_are_found_and_copied(tmp_path: Path) -> None:
    src = tmp_path / "src"
    doc = small_doc()
    odd = ["a b (1).jpg", "ü/ñ é.png"]
    for image, name in zip(doc["images"], odd, strict=True):
        image["file_name"] = name
        make_image(src / "images" / name, image["width"], image["height"])
    dump(src / "annotations" / "instances_default.json", doc)
    result = coco.read(src)
    assert result.dataset.images["file_name"].tolist() == [f"images/{n}" for n in odd]
    assert not any("not found" in n for n in result.notes)
    report = write_dataset(result.dataset, tmp_path / "out", "coco")
    assert report.images_transferred == 2
    back = coco.read(tmp_path / "out").dataset
    assert back.images["file_name"].tolist() == [f"images/{n}" for n in odd]
    raw = (tmp_path / "out" / "annotations" / "instances_default.json").read_bytes()
    assert "ü/ñ é.png".encode() in raw  # UTF-8, not \\u escapes


def test_single_file_layouts(tmp_path: Path) -> None:
    # json beside its images
    beside = tmp_path / "beside"
    make_image(beside / "a.jpg", 64, 48)
    ds = coco.read(dump(beside / "labels.json", small_doc())).dataset
    assert ds.root == beside and ds.images["file_name"].tolist() == ["a.jpg", "b.jpg"]
    assert ds.images["split"].isna().all()
    # json in its own folder, images in the parent's images/
    parent = tmp_path / "parent"
    make_image(parent / "images" / "a.jpg", 64, 48)
    make_image(parent / "images" / "b.jpg", 32, 32)
    result = coco.read(dump(parent / "labels" / "instances_train.json", small_doc()))
    assert result.dataset.root == parent
    assert result.dataset.images["file_name"].tolist() == ["images/a.jpg", "images/b.jpg"]
    assert result.dataset.images["split"].tolist() == ["train", "train"]
    # COCO-2017: annotations/instances_train2017.json + train2017/
    c17 = tmp_path / "coco17"
    make_image(c17 / "train2017" / "a.jpg", 64, 48)
    dump(c17 / "annotations" / "instances_train2017.json", small_doc())
    dump(c17 / "annotations" / "captions_train2017.json", {"images": [], "annotations": []})
    result = coco.read(c17)
    assert result.dataset.images["file_name"].tolist() == ["train2017/a.jpg", "train2017/b.jpg"]
    assert result.dataset.images["split"].tolist() == ["train2017"] * 2
    assert any("ignored captions_train2017.json" in n for n in result.notes)
    assert any("1 image files not found" in n for n in result.notes)
    # a keypoints-only COCO folder
    kp = tmp_path / "kp"
    dump(kp / "annotations" / "person_keypoints_val2017.json", small_doc())
    assert coco.read(kp).dataset.images["split"].tolist() == ["val2017"] * 2


def test_missing_sizes_are_read_from_image_headers(tmp_path: Path) -> None:
    doc = small_doc()
    for image in doc["images"]:
        del image["width"], image["height"]
    make_image(tmp_path / "ds" / "a.jpg", 64, 48)
    result = coco.read(dump(tmp_path / "ds" / "labels.json", doc))
    sizes = result.dataset.images[["width", "height"]]
    assert sizes.loc[1].tolist() == [64, 48]
    assert sizes.loc[2].isna().all()  # b.jpg does not exist
    assert any("read 1 image sizes" in n for n in result.notes)


def test_split_id_collisions_are_renumbered_and_categories_merged_by_name(tmp_path: Path) -> None:
    train, val = small_doc(), small_doc()
    for image in val["images"]:
        image["file_name"] = "v" + image["file_name"]
    val["categories"] = [{"id": 3, "name": "dog"}, {"id": 9, "name": "cat"}, {"id": 4, "name": "bird"}]
    dump(tmp_path / "ds" / "annotations" / "instances_train.json", train)
    dump(tmp_path / "ds" / "annotations" / "instances_val.json", val)
    result = coco.read(tmp_path / "ds")
    ds = result.dataset
    assert ds.images.index.tolist() == [1, 2, 3, 4]
    assert ds.annotations.index.is_unique and len(ds.annotations) == 6
    notes = " | ".join(result.notes)
    assert "annotations/instances_val.json: image ids collide" in notes and "new = old + 2" in notes
    assert "merged by name (3->9, 9->3)" in notes
    assert ds.categories["name"].to_dict() == {3: "cat", 4: "bird", 9: "dog"}
    # each annotation still names the category and image it had in its own file
    joined = ds.annotations.join(ds.images["file_name"], on="image_id").join(ds.categories["name"], on="category_id")
    got = sorted(zip(joined["file_name"].str.rsplit("/", n=1).str[-1], joined["name"], strict=True))
    assert got == sorted(
        [("a.jpg", "cat"), ("a.jpg", "dog"), ("b.jpg", "cat"), ("va.jpg", "dog"), ("va.jpg", "cat"), ("vb.jpg", "dog")]
    )


@pytest.mark.parametrize("escapes", [True, False])
def test_chunked_parse_equals_whole_parse(tmp_path: Path, escapes: bool) -> None:
    """Big files are sliced into record chunks; brackets, quotes and backslashes in strings must not confuse it."""
    odd = 'dir\\sub [x] {y} "q\\\\".jpg' if escapes else "sub [x] {y}}]].jpg"
    doc = small_doc()
    doc["info"] = {"description": 'a "quoted" {brace} [bracket] \\ backslash' if escapes else "{[brace"}
    doc["images"] = [
        {"id": i, "file_name": f"{i}{odd}" if i % 5 == 0 else f"{i}.jpg", "width": 10, "height": 10}
        for i in range(1, 60)
    ]
    doc["annotations"] = [
        {
            "id": i,
            "image_id": 1 + i % 59,
            "category_id": 3,
            "bbox": [i, i, 2, 2],
            "area": 4,
            "iscrowd": 0,
            "attributes": {"t": "}]" * (i % 3)},
        }
        for i in range(1, 200)
    ]
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc, indent=1))
    assert (b"\\" in path.read_bytes()) == escapes
    assert _json_chunks.split_object(path.read_bytes(), path, [], keys=("images", "annotations")) is not None
    whole = coco.read(path).dataset
    chunked = coco.read(path, chunk_sizes=ChunkSizes(min_bytes=0, records=7)).dataset
    pd.testing.assert_frame_equal(chunked.images, whole.images)
    pd.testing.assert_frame_equal(chunked.annotations, whole.annotations)
    assert chunked.info == whole.info == {"info": doc["info"]}
    assert whole.images.loc[5, "file_name"] == f"5{odd}".replace("\\", "/")
    assert chunked.annotations.loc[2, "attributes"] == {"t": "}]}]"}


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.text(alphabet='ab"\\[]{},: \n\té日\x00', max_size=12), min_size=1, max_size=12),
    indent=st.sampled_from([None, 1]),
)
def test_chunked_parse_of_arbitrary_strings(texts: list[str], indent: int | None) -> None:
    """The bracket index agrees with the JSON parser whatever the strings hold."""
    doc = {
        "info": {"t": texts[0]},
        "images": [{"id": i + 1, "file_name": t or "x", "width": 1, "height": 1} for i, t in enumerate(texts)],
        "annotations": [
            {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "attributes": {t: [t, {"k": t}]}}
            for i, t in enumerate(texts)
        ],
        "categories": [{"id": 1, "name": texts[-1]}],
    }
    buf = json.dumps(doc, indent=indent, ensure_ascii=bool(indent)).encode()
    parsed = _json_chunks.split_object(
        buf, Path("x.json"), [], keys=("images", "annotations"), sizes=ChunkSizes(records=2)
    )
    assert parsed is not None
    assert parsed.head == {**doc, "images": [], "annotations": []}
    for key in ("images", "annotations"):
        chunks = list(parsed.arrays[key])
        assert len(chunks) == (len(texts) + 1) // 2
        assert [r for chunk in chunks for r in chunk] == doc[key]


@pytest.mark.parametrize("chunked", [False, True])
def test_nan_literals_are_read_with_a_note(tmp_path: Path, chunked: bool) -> None:
    sizes = ChunkSizes(min_bytes=0) if chunked else ChunkSizes()
    text = json.dumps(small_doc()).replace('"area": 12', '"area": NaN')
    path = tmp_path / "labels.json"
    path.write_text(text)
    result = coco.read(path, chunk_sizes=sizes)
    assert math.isnan(result.dataset.annotations.loc[1, "area"])
    assert result.dataset.annotations.loc[3, "area"] == 1024
    assert sum("NaN/Infinity" in n for n in result.notes) == 1


# -- user errors ----------------------------------------------------------------------------


def bad_file(tmp_path: Path, edit: Any) -> Path:
    doc = small_doc()
    edit(doc)
    return dump(tmp_path / "ds" / "annotations" / "instances_train.json", doc)


def test_reports_truncated_json(tmp_path: Path) -> None:
    path = tmp_path / "ds" / "annotations" / "instances_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(small_doc(), indent=2)[:-40])
    with pytest.raises(InputError) as err:
        coco.read(tmp_path / "ds")
    assert err.value.path == str(path) and err.value.line is not None and err.value.line > 20
    assert str(err.value).startswith(f"{path}: line {err.value.line}: invalid JSON")
    assert "truncated" in str(err.value)


def test_reports_truncated_json_in_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(small_doc())[:-30])
    with pytest.raises(InputError, match=r"labels\.json: line 1: invalid JSON"):
        coco.read(path, chunk_sizes=ChunkSizes(min_bytes=0))


@pytest.mark.parametrize(
    ("edit", "record", "problem"),
    [
        (
            lambda d: d["annotations"][1].update(bbox=[1, 2, 3]),
            "annotations[1].bbox",
            "'bbox' must be 4 numbers [x_min, y_min, width, height], got [1, 2, 3]",
        ),
        (lambda d: d["annotations"][2].update(bbox=[1, "2", 3, 4]), "annotations[2].bbox", "got [1, '2', 3, 4]"),
        # string ids are read and renumbered (issue 7 item 13, tests/formats/test_variants.py); JSON true is no id
        (lambda d: d["images"][0].update(id=True), "images[0].id", "'id' must be an integer, got True"),
        (lambda d: d["images"][1].pop("file_name"), "images[1].file_name", "'file_name' is missing"),
        (lambda d: d["images"][1].update(id=1), "images[1].id", "image id 1 is used twice (images[0] and images[1])"),
        (lambda d: d["annotations"][2].update(id=1), "annotations[2].id", "annotation id 1 is used twice"),
        (lambda d: d["annotations"][0].update(category_id=None), "annotations[0].category_id", "got None"),
        (lambda d: d["annotations"][0].update(iscrowd=2), "annotations[0].iscrowd", "'iscrowd' must be 0 or 1, got 2"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3]]), "annotations[0].segmentation", "even number"),
        (lambda d: d["annotations"][1].update(segmentation="x"), "annotations[1].segmentation", "unreadable"),
        (lambda d: d["annotations"][1].update(segmentation={"counts": "x"}), "annotations[1].segmentation", "'size'"),
        (lambda d: d["categories"][1].update(id=3), "categories[1].id", "category id 3 is used twice"),
        (lambda d: d["images"][0].update(width="64"), "images[0].width", "got '64'"),
    ],
)
def test_reports_bad_records(tmp_path: Path, edit: Any, record: str, problem: str) -> None:
    path = bad_file(tmp_path, edit)
    with pytest.raises(InputError) as err:
        coco.read(tmp_path / "ds")
    assert err.value.path == str(path) and err.value.record == record
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{path}: {record}: ")
    assert err.value.hint


def test_collect_mode_skips_bad_records_with_findings(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["annotations"][1]["bbox"] = [1, 2, 3]
        d["annotations"][2]["id"] = 1
        d["images"].append({"id": 1, "file_name": "dup.jpg"})
        d["images"].append({"id": None, "file_name": "bad.jpg"})  # a string id would be read (item 13)

    path = bad_file(tmp_path, edit)
    result = coco.read(tmp_path / "ds", on_error="collect")
    codes = sorted((f.code, f.record) for f in result.findings)
    assert codes == [
        ("duplicate-id", "annotations[2].id"),
        ("duplicate-id", "images[2].id"),
        ("invalid-record", "annotations[1].bbox"),
        ("invalid-record", "images[3].id"),
    ]
    assert all(f.file == str(path) for f in result.findings)
    ds = result.dataset
    assert ds.images["file_name"].str.endswith(("a.jpg", "b.jpg")).all() and len(ds.images) == 2  # first image kept
    assert sorted(ds.annotations.index.tolist()) == [1, 2]  # bad box (id 2) skipped, duplicate renumbered to 2


def test_reports_a_results_file_given_as_a_dataset(tmp_path: Path) -> None:
    path = dump(tmp_path / "dets.json", [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])
    with pytest.raises(InputError, match="results file"):
        coco.read(path)


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    path = dump(tmp_path / "labels.json", small_doc())
    with pytest.raises(UsageError, match="probe_size"):
        coco.read(path, probe_size=False)


# -- writing refusals -------------------------------------------------------------------------


def test_write_refuses_file_names_that_escape(small_dataset: Dataset, tmp_path: Path) -> None:
    images = small_dataset.images.copy()
    images.loc[2, "file_name"] = "../evil.png"
    ds = small_dataset.replace(images=images)
    with pytest.raises(OutputError, match=r"image 2: its file name '\.\./evil\.png' escapes"):
        write_dataset(ds, tmp_path / "out", "coco")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_write_refuses_unknown_options(small_dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="indnt"):
        write_dataset(small_dataset, tmp_path / "out", "coco", indnt=True)


def test_write_indent_option_and_derived_fields(tmp_path: Path) -> None:
    ds = Dataset.from_frames(
        {"image_id": [1], "file_name": ["a.jpg"], "width": [10], "height": [10]},
        {
            "annotation_id": [1, 2, 3, 4],
            "image_id": [1, 1, 1, 1],
            "category_id": [1, 1, 1, 1],
            "x_min": [np.nan, 1, np.nan, 1],
            "y_min": [np.nan, 1, np.nan, 1],
            "x_max": [np.nan, 3, np.nan, 2],
            "y_max": [np.nan, 4, np.nan, 2],
            "segmentation": [
                [np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float)],
                None,
                None,
                [np.array([[1, 1], [2, 2]], float)],  # 2 points: pycocotools would take it for a box
            ],
        },
        {"category_id": [1], "name": ["a"]},
    )
    report = write_dataset(ds, tmp_path / "out", "coco", images="none", indent=True)
    assert [(loss.code, loss.count, loss.examples) for loss in report.losses] == [("image-label-dropped", 1, [3])]
    text = (tmp_path / "out" / "annotations" / "instances_default.json").read_text()
    assert text.startswith('{\n  "categories"')
    doc = orjson.loads(text)
    assert [a["id"] for a in doc["annotations"]] == [1, 2, 4]
    assert doc["annotations"][2]["area"] == 0.0
    assert doc["annotations"][0]["bbox"] == [0.0, 0.0, 4.0, 4.0] and doc["annotations"][0]["area"] == 16.0
    assert doc["annotations"][1]["area"] == 6.0 and doc["annotations"][1]["segmentation"] == []
    assert "score" not in doc["annotations"][0] and "attributes" not in doc["annotations"][0]


def test_plan_lists_exactly_what_write_drops(tmp_path: Path) -> None:
    """plan and write share one decision: an empty segmentation list saves no label either."""
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["a.jpg", "b.jpg"], "width": [10, 10], "height": [10, 10]},
        {
            "annotation_id": [5, 2, 9, 1],
            "image_id": [1, 1, 2, 2],
            "category_id": [1, 1, 1, 1],
            "x_min": [np.nan, np.nan, np.nan, 1],
            "y_min": [np.nan, np.nan, np.nan, 1],
            "x_max": [np.nan, np.nan, np.nan, 3],
            "y_max": [np.nan, np.nan, np.nan, 4],
            "segmentation": [[np.array([[0, 0], [4, 0], [4, 4]], float)], [], None, None],
        },
        {"category_id": [1], "name": ["a"]},
    )
    planned = coco.plan(ds)
    report = coco.write(ds, tmp_path / "out", images="none")
    written = orjson.loads((tmp_path / "out" / "annotations" / "instances_default.json").read_bytes())["annotations"]
    assert [a["id"] for a in written] == [1, 5]
    dropped = [loss for loss in planned if loss.code == "image-label-dropped"]
    assert [(loss.count, loss.examples) for loss in dropped] == [(2, [2, 9])]
    assert report.annotations == len(ds.annotations) - dropped[0].count
    with pytest.raises(UsageError, match="indnt"):
        coco.plan(ds, indnt=True)


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/x.png", "a/../../x.png", "a\x00b.png", ""])
def test_write_refuses_unsafe_file_names(small_dataset: Dataset, tmp_path: Path, name: str) -> None:
    images = small_dataset.images.copy()
    images.loc[2, "file_name"] = name
    ds = small_dataset.replace(images=images)
    with pytest.raises(OutputError, match=rf"image 2: its file name {re.escape(repr(name))} escapes"):
        coco.write(ds, tmp_path / "out", images="none")
    assert not (tmp_path / "out" / "annotations").exists()


# -- results files ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_read_results(conformance: Path, tmp_path: Path, chunked: bool) -> None:
    sizes = ChunkSizes(min_bytes=0, records=2) if chunked else ChunkSizes()
    reference = coco.read(conformance / "datumaro" / "coco_dataset" / "coco_instances").dataset
    rle = geometry.rle_encode(np.pad(np.ones((2, 3), np.uint8), ((1, 7), (1, 1))))  # 10 x 5 image
    dets = [
        {"image_id": 5, "category_id": 2, "bbox": [2.0, 2.0, 3.0, 1.0], "score": 0.9},
        {"image_id": 40, "category_id": 1, "bbox": [0.1, 0.2, 0.3, 0.4], "score": 0.25},
        {"image_id": 40, "category_id": 2, "segmentation": rle, "score": 0.5},
    ]
    ds = coco.read_results(dump(tmp_path / "dets.json", dets), reference, chunk_sizes=sizes)
    assert ds.annotations.index.tolist() == [1, 2, 3]
    assert ds.annotations["score"].tolist() == [0.9, 0.25, 0.5]
    np.testing.assert_array_equal(ds.annotations.loc[3, BOX_COLUMNS].to_numpy(dtype=float), [1, 1, 4, 3])
    assert ds.annotations.loc[3, "segmentation"] == rle
    assert ds.images is reference.images or ds.images.equals(reference.images)
    assert ds.categories.equals(reference.categories) and ds.root == reference.root
    # a full COCO dict with scored annotations is accepted too
    wrapped = coco.read_results(dump(tmp_path / "wrapped.json", {"annotations": dets}), reference, chunk_sizes=sizes)
    assert wrapped.annotations["score"].tolist() == [0.9, 0.25, 0.5]


@pytest.mark.parametrize(
    ("dets", "record", "problem"),
    [
        (
            [
                {"image_id": 5, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5},
                {"image_id": 5, "category_id": 2, "bbox": [0, 0, 1, 1]},
            ],
            "[1].score",
            "without a 'score'",
        ),
        ([{"image_id": 5, "category_id": 2, "bbox": [0, 0, 1], "score": 0.5}], "[0].bbox", "got [0, 0, 1]"),
        ([{"image_id": "5", "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5}], "[0].image_id", "got '5'"),
        ([{"image_id": 5, "category_id": 2, "bbox": [0, 0, 1, 1], "score": "high"}], "[0].score", "got 'high'"),
    ],
)
def test_read_results_reports_bad_detections(
    conformance: Path, tmp_path: Path, dets: Any, record: str, problem: str
) -> None:
    reference = coco.read(conformance / "datumaro" / "coco_dataset" / "coco_instances").dataset
    path = dump(tmp_path / "dets.json", dets)
    with pytest.raises(InputError) as err:
        coco.read_results(path, reference)
    assert err.value.path == str(path) and err.value.record == record and problem in err.value.problem


def test_provenance_points_into_the_file_even_after_renumbering(conformance: Path) -> None:
    root = conformance / "datumaro" / "coco_dataset" / "coco_instances"
    result = coco.read(root, provenance=True)
    anns = result.annotation_sources
    # val's annotation ids 1, 2 collide with train's 1 and are renumbered: the pointer still
    # names the record's own position in its own file
    assert anns.loc[1].tolist()[::2] == ["annotations/instances_train.json", "annotations[0]"]
    assert anns.loc[[2, 3], "record"].tolist() == ["annotations[0]", "annotations[1]"]
    assert set(anns.loc[[2, 3], "file"]) == {"annotations/instances_val.json"}
    assert result.image_sources.loc[40].tolist() == ["annotations/instances_val.json", "images[0]"]
    assert coco.read(root).annotation_sources is None


def test_batched_mask_areas_equal_pycocotools_one_by_one() -> None:
    """The writer rasterizes polygons a size at a time; each area is still pycocotools' own."""
    from pycocotools import mask as mask_utils

    from dataprep.formats.coco.write import _mask_areas

    rng = np.random.default_rng(3)
    segs, widths, heights, expected = [], [], [], []
    for k in range(700):  # over 255 polygons of one size: pycocotools' area() overflows on longer lists
        w, h = [(64, 48), (33, 17), (640, 480)][k % 3]
        parts = []
        for _ in range(1 + (k % 7 == 0)):  # some two-part polygons, possibly overlapping
            centre = rng.uniform(0, [w, h])
            pts = centre + rng.normal(0, 6, (int(rng.integers(3, 9)), 2))
            parts.append(pts)
        if k % 50 == 0:
            parts.append(np.array([[1.0, 1.0], [2.0, 2.0]]))  # under 3 points: no area, left out
        segs.append(parts)
        widths.append(w)
        heights.append(h)
        flat = [p.ravel().tolist() for p in parts if len(p) >= 3]
        expected.append(float(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(flat, h, w)))))
    rle = mask_utils.encode(np.asfortranarray(np.eye(20, dtype=np.uint8)))
    segs.append({"size": rle["size"], "counts": rle["counts"]})
    widths.append(20)
    heights.append(20)
    expected.append(20.0)
    segs.append([np.array([[1.0, 1.0], [9.0, 1.0], [9.0, 5.0]])])  # size unknown: a canvas holding it
    widths.append(np.nan)
    heights.append(np.nan)
    expected.append(float(mask_utils.area(mask_utils.frPyObjects([[1, 1, 9, 1, 9, 5]], 6, 10))[0]))
    got = _mask_areas(segs, np.asarray(widths, dtype=np.float64), np.asarray(heights, dtype=np.float64))
    assert got.tolist() == expected
