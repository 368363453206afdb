"""Pipelines: schema, presets, parameter errors, determinism, degenerate boxes, mosaic, masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataprep.augmentation import PRESETS, TRANSFORMS, Pipeline, Sample, load_pipeline, pipeline_schema
from dataprep.augmentation.transforms import ColorJitter, Mosaic, Rotate
from dataprep.errors import ExitCode, UsageError
from dataprep.geometry import rle_decode, rle_encode

REPO = Path(__file__).resolve().parents[2]
IMAGE = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
BOXES = np.array([[4.0, 6.0, 20.0, 30.0], [30.5, 10.25, 60.0, 47.0]])


def test_schema_file_is_generated_from_the_transforms() -> None:
    on_disk = json.loads((REPO / "schemas" / "augment-pipeline.schema.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(pipeline_schema())), "regenerate with augmentation.pipeline.write_schema"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_pass_the_schema_and_run(name: str) -> None:
    pipe = load_pipeline(name)
    out = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(0))
    assert out.image.dtype == np.uint8 and out.image.ndim == 3


def test_every_transform_runs_with_its_defaults() -> None:
    partners = [Sample.from_arrays(IMAGE, BOXES, None, [1, 2], source_index=[10 * k, 10 * k + 1]) for k in (1, 2, 3)]
    for name, cls in TRANSFORMS.items():
        pipe = Pipeline([cls(p=1.0)])
        out = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(0), partners=partners)
        assert out.image.dtype == np.uint8, name
        assert len(out.boxes_xyxy) == len(out.category_ids) == len(out.source_index) == len(out.polygons), name


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"transforms": [{"type": "rotate", "degrees": 400}]}, "transforms[0].degrees"),
        ({"transforms": [{"type": "rotate", "degres": 4}]}, "degres"),
        ({"transforms": [{"type": "spin"}]}, "transforms[0].type"),
        ({"transforms": [{"type": "hflip", "p": 1.5}]}, "transforms[0].p"),
        ({"transforms": [], "min_visibility": 2}, "min_visibility"),
        ({"transforms": [{"type": "scale", "factor": [1.2, 0.8]}]}, "low end 1.2 is above high end 0.8"),
        ({"transform": []}, "transforms"),
    ],
)
def test_reports_schema_and_range_errors(doc: dict, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        load_pipeline(doc)
    message = str(info.value)
    assert expected in message
    assert info.value.exit_code == ExitCode.USAGE
    assert "Use" in message or "See" in message or "Add" in message  # ends with the fix


def test_reports_out_of_range_with_value_and_fix() -> None:
    with pytest.raises(UsageError) as info:
        load_pipeline({"transforms": [{"type": "rotate", "degrees": 400}]})
    assert str(info.value) == (
        "pipeline: transforms[0].degrees: 400 is not allowed. "
        "Use a number v (meaning [-v, v]) or a pair [low, high] within [-180, 180] (rotation angle in degrees)"
    )
    with pytest.raises(UsageError, match=r"degrees=\[0, 400\] is outside \[-180, 180\]"):
        Rotate(degrees=[0, 400])


def test_pipeline_file_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("transforms:\n  - {type: hflip, p: 1}\n  - {type: blur, sigma: [1, 2]}\n")
    (tmp_path / "p.json").write_text(json.dumps({"transforms": [{"type": "hflip", "p": 1}]}))
    assert [t.type for t in load_pipeline(tmp_path / "p.yaml").transforms] == ["hflip", "blur"]
    assert load_pipeline(str(tmp_path / "p.json")).transforms[0].p == 1.0
    (tmp_path / "bad.yaml").write_text("transforms: [\n")
    with pytest.raises(UsageError, match=r"bad\.yaml"):
        load_pipeline(tmp_path / "bad.yaml")
    with pytest.raises(UsageError, match="light, detection, classification"):
        load_pipeline("no-such-preset")


def test_to_dict_round_trips() -> None:
    pipe = load_pipeline("detection")
    again = load_pipeline(pipe.to_dict())
    assert again.to_dict() == pipe.to_dict()


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
def test_same_seed_same_bytes_different_seed_different(backend: str) -> None:
    pipe = load_pipeline({**PRESETS["detection"], "backend": backend})
    a = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng([0, 5, 1]))
    b = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng([0, 5, 1]))
    c = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng([1, 5, 1]))
    assert a.image.tobytes() == b.image.tobytes()
    np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)
    assert a.image.tobytes() != c.image.tobytes()


def test_inputs_are_not_modified() -> None:
    image, boxes = IMAGE.copy(), BOXES.copy()
    polys = [[np.array([[5.0, 7.0], [19.0, 7.0], [12.0, 29.0]])], None]
    keep = [p[0].copy() for p in polys if p]
    load_pipeline("detection")(image, boxes, polys, [1, 2], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(image, IMAGE)
    np.testing.assert_array_equal(boxes, BOXES)
    np.testing.assert_array_equal(polys[0][0], keep[0])


def test_degenerate_boxes_are_dropped_and_reported() -> None:
    boxes = np.array([[5, 5, 5, 20], [10, 10, 8, 20], [1, 1, 30, 30], [np.nan, 1, 2, 3], [2, 2, 2.5, 9]], float)
    out = Pipeline([], min_size=1.0)(IMAGE, boxes, None, [1, 2, 3, 4, 5], rng=np.random.default_rng(0))
    assert out.source_index.tolist() == [2]
    assert sorted(out.dropped_degenerate.tolist()) == [0, 1, 3, 4]


def test_boxes_pushed_out_are_dropped_below_min_visibility() -> None:
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 40.0, 10.0]])
    # shift by 25/64 of each side: (25, 18.75) px; box 1 lands on x 45..65 of 64: 19/20 visible
    pipe = Pipeline([TRANSFORMS["translate"](fraction=[25 / 64, 25 / 64], p=1)], min_visibility=0.5)
    out = pipe(IMAGE, boxes, None, [1, 2], rng=np.random.default_rng(0))
    assert out.source_index.tolist() == [0, 1]
    assert out.clipped.tolist() == [False, True]
    np.testing.assert_allclose(out.boxes_xyxy[1], [45, 18.75, 64, 28.75])
    strict = Pipeline(pipe.transforms, min_visibility=0.99)(IMAGE, boxes, None, [1, 2], rng=np.random.default_rng(0))
    assert strict.source_index.tolist() == [0] and strict.dropped_outside.tolist() == [1]


def test_image_level_labels_pass_every_transform() -> None:
    boxes = np.full((2, 4), np.nan)
    out = load_pipeline("classification")(IMAGE, boxes, None, [4, 9], rng=np.random.default_rng(2))
    assert out.category_ids.tolist() == [4, 9]
    assert np.isnan(out.boxes_xyxy).all()


def test_rle_masks_move_with_pixels() -> None:
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 5:25] = 1
    rle = rle_encode(mask)
    out = Pipeline([TRANSFORMS["hflip"](p=1)])(IMAGE, [[5, 10, 25, 20]], [rle], [1], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(rle_decode(out.polygons[0]), mask[:, ::-1])
    np.testing.assert_allclose(out.boxes_xyxy[0], [39, 10, 59, 20])


def test_mosaic_needs_partners_and_keeps_objects_in_their_quadrant() -> None:
    pipe = Pipeline([Mosaic(p=1)], min_visibility=0.0)
    with pytest.raises(UsageError, match="partner"):
        pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(0))
    partners = [Sample.from_arrays(IMAGE, BOXES, None, [1, 2], source_index=[10 * k, 10 * k + 1]) for k in (1, 2, 3)]
    for seed in range(5):
        out = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(seed), partners=partners)
        assert out.image.shape == IMAGE.shape
        assert set(out.source_index.tolist()) <= {0, 1, 10, 11, 20, 21, 30, 31}
        b = out.boxes_xyxy
        assert (b[:, :2] >= 0).all() and (b[:, 2] <= 64).all() and (b[:, 3] <= 48).all()
    called = []
    skipped = Pipeline([Mosaic(p=0.0)])
    skipped(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(0), partners=lambda: called.append(1) or partners)
    assert not called  # partners are only loaded when the mosaic fires


def test_grey_images_keep_one_channel() -> None:
    grey = IMAGE[:, :, 0]
    out = Pipeline([ColorJitter(p=1), Rotate(p=1)])(grey, BOXES, None, [1, 2], rng=np.random.default_rng(0))
    assert out.image.shape == (48, 64, 1)


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
def test_pipelines_pickle_for_data_loader_workers(backend: str) -> None:
    import pickle

    pipe = load_pipeline({**PRESETS["detection"], "backend": backend})
    again = pickle.loads(pickle.dumps(pipe))
    a = pipe(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(9))
    b = again(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(9))
    assert a.image.tobytes() == b.image.tobytes()


def test_opencv_is_the_default_backend_and_runs_on_one_thread() -> None:
    import cv2

    from dataprep.augmentation import functional as F

    assert Pipeline([]).backend == "opencv"
    assert all(load_pipeline(name).backend == "opencv" for name in PRESETS)
    assert pipeline_schema()["properties"]["backend"]["default"] == "opencv"
    assert load_pipeline({**PRESETS["light"], "backend": "pillow"}).backend == "pillow"  # still selectable
    before = cv2.getNumThreads()
    F.cv2_module.cache_clear()  # as in a fresh process: the next use sets OpenCV up
    cv2.setNumThreads(4)
    try:
        load_pipeline("detection")(IMAGE, BOXES, None, [1, 2], rng=np.random.default_rng(0))
        assert cv2.getNumThreads() == 1  # sequential: no pool next to torch's threads
    finally:
        F.cv2_module.cache_clear()
        cv2.setNumThreads(before)
        F.cv2_module()
