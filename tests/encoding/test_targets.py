"""Encoding targets: the spec's hand-checked vectors, collisions, drops, dense layout, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.encoding import (
    YOLOV3_ANCHORS,
    anchor_layout,
    decode,
    dense_bytes,
    encode,
    grid_layout,
    to_dense,
)

TOL = 1e-6
# YOLOv2 VOC anchors in grid units (13x13 at 416 px): the spec's v2 vector
V2_ANCHORS_GRID = np.array(
    [[1.3221, 1.73145], [3.19275, 4.00944], [5.05587, 8.09892], [9.47112, 4.84053], [11.2364, 10.0071]]
)


def cxcywh(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])


def one_row(targets) -> dict:
    assert len(targets) == 1, targets.to_frame()
    return {k: v[0] for k, v in targets.columns().items()}


# -- shared/specs/yolo-targets.md, "Hand-checkable vectors" -------------------------------------


def test_spec_v1_box() -> None:
    r = one_row(encode(cxcywh(200, 300, 100, 150), [0], grid_layout(7, img_size=448)))
    assert (r["row"], r["col"]) == (4, 3)
    assert r["tx"] == pytest.approx(0.125, abs=TOL) and r["ty"] == pytest.approx(0.6875, abs=TOL)
    assert r["tw"] == pytest.approx(0.223214, abs=TOL) and r["th"] == pytest.approx(0.334821, abs=TOL)


def test_spec_v1_centre_on_border_goes_right_and_down() -> None:
    r = one_row(encode(cxcywh(192, 256, 10, 10), [0], grid_layout(7, img_size=448)))
    assert (r["row"], r["col"], r["tx"], r["ty"]) == (4, 3, 0.0, 0.0)


def test_spec_v1_centre_on_far_border_is_clamped() -> None:
    r = one_row(encode(cxcywh(448, 100, 10, 10), [0], grid_layout(7, img_size=448)))
    assert r["col"] == 6 and r["tx"] == pytest.approx(1.0, abs=TOL)


def test_spec_v2_region() -> None:
    layout = anchor_layout(V2_ANCHORS_GRID * 32, img_size=416, strides=(32,), num_classes=20)
    r = one_row(encode(cxcywh(100, 150, 60, 90), [0], layout))
    assert (r["col"], r["row"], r["anchor"]) == (3, 4, 0)
    assert r["tx"] == pytest.approx(0.125, abs=TOL) and r["ty"] == pytest.approx(0.6875, abs=TOL)
    assert r["tw"] == pytest.approx(0.349387, abs=TOL) and r["th"] == pytest.approx(0.485115, abs=TOL)
    assert r["weight"] == pytest.approx(1.968796, abs=TOL)


@pytest.mark.parametrize(
    ("box", "anchor", "stride", "cell", "offsets", "twh"),
    [
        ((100, 150, 60, 90), 5, 16, (6, 9), (0.25, 0.375), (0.016807, -0.279314)),
        ((208, 208, 300, 280), 8, 32, (6, 6), (0.5, 0.5), (-0.217796, -0.152108)),
        ((20, 20, 12, 14), 0, 8, (2, 2), (0.5, 0.5), (0.182322, 0.074108)),
    ],
)
def test_spec_v3_best_anchor(box, anchor, stride, cell, offsets, twh) -> None:
    layout = anchor_layout(YOLOV3_ANCHORS, img_size=416, num_classes=80)
    r = one_row(encode(cxcywh(*box), [0], layout))
    assert r["anchor"] == anchor and layout.strides[r["scale"]] == stride
    assert r["slot"] == anchor % 3
    assert layout.grid_sizes[r["scale"]] == 416 // stride
    assert (r["col"], r["row"]) == cell
    assert (r["tx"], r["ty"]) == pytest.approx(offsets, abs=TOL)
    assert (r["tw"], r["th"]) == pytest.approx(twh, abs=TOL)


def test_spec_ratio4_nineteen_positives() -> None:
    layout = anchor_layout(YOLOV3_ANCHORS, img_size=416, num_classes=80, assign="ratio:4")
    t = encode(cxcywh(100, 150, 60, 90), [0], layout)
    got = {(layout.strides[s], a, (c, r)) for s, a, c, r in zip(t.scale, t.anchor, t.col, t.row, strict=True)}
    expected = {(8, a, cell) for a in (1, 2) for cell in [(12, 18), (12, 19)]}
    expected |= {(16, a, cell) for a in (3, 4, 5) for cell in [(6, 9), (5, 9), (6, 8)]}
    expected |= {(32, a, cell) for a in (6, 7) for cell in [(3, 4), (2, 4), (3, 5)]}
    assert len(t) == 19 and got == expected
    assert ((t.tx >= -0.5) & (t.tx <= 1.5) & (t.ty >= -0.5) & (t.ty <= 1.5)).all()


def test_iou_assign_adds_same_scale_anchors_above_threshold() -> None:
    layout = anchor_layout(YOLOV3_ANCHORS, img_size=416, num_classes=80, assign="iou:0.3")
    t = encode(cxcywh(100, 150, 60, 90), [0], layout)
    assert 5 in t.anchor.tolist() and set(t.scale.tolist()) == {1}
    assert len(t) > 1


# -- drops and collisions ---------------------------------------------------------------------


def test_bad_boxes_are_dropped_with_reason_never_nan() -> None:
    boxes = np.array(
        [
            [10, 10, 50, 50],  # fine
            [np.nan, 0, 10, 10],
            [30, 30, 20, 40],  # inverted
            [5, 5, 5, 20],  # zero width
            [500, 500, 520, 520],  # centre outside the 416 input
            [10, 10, 50, 50],  # class out of range
        ],
        dtype=float,
    )
    t = encode(boxes, [0, 0, 0, 0, 0, 99], anchor_layout(num_classes=3), annotation_id=[11, 12, 13, 14, 15, 16])
    assert t.annotation_id.tolist() == [11]
    reasons = dict(zip(t.dropped["annotation_id"], t.dropped["reason"].astype(str), strict=True))
    assert reasons == {
        12: "box-non-finite",
        13: "box-inverted",
        14: "box-zero-area",
        15: "box-outside-image",
        16: "class-out-of-range",
    }
    assert all(np.isfinite(getattr(t, c)).all() for c in ("tx", "ty", "tw", "th", "weight"))


def test_grid_drops_tiny_boxes() -> None:
    t = encode(np.array([[10, 10, 11, 40.0]]), [0], grid_layout(7, img_size=448))  # 1 px < 0.5 % of 448
    assert t.dropped["reason"].astype(str).tolist() == ["box-tiny"]


def _random_boxes(rng: np.random.Generator, n: int, size: int = 416) -> np.ndarray:
    c = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(3, size / 2, (n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1)


def _brute_force_collisions(t_all) -> tuple[int, int]:
    """(rows in a shared slot, rows beyond the first per slot), counted with a dict."""
    seen: dict[tuple, int] = {}
    for key in zip(t_all.image, t_all.scale, t_all.slot, t_all.row, t_all.col, strict=True):
        seen[key] = seen.get(key, 0) + 1
    return sum(v for v in seen.values() if v > 1), sum(v - 1 for v in seen.values())


@pytest.mark.parametrize("assign", ["best", "iou:0.3", "ratio:4"])
def test_collisions_match_brute_force(assign: str) -> None:
    rng = np.random.default_rng(3)
    boxes = _random_boxes(rng, 600)
    image = np.sort(rng.integers(0, 20, 600))
    cls = rng.integers(0, 4, 600)
    everything = encode(boxes, cls, anchor_layout(num_classes=4, assign=assign, keep="all"), image=image)
    shared, extra = _brute_force_collisions(everything)
    assert everything.collisions == shared > 0
    for keep in ("largest", "last"):
        t = encode(boxes, cls, anchor_layout(num_classes=4, assign=assign, keep=keep), image=image)
        assert t.collisions == shared
        assert len(t) == len(everything) - extra  # one row survives per slot
        slots = set(zip(t.image, t.scale, t.slot, t.row, t.col, strict=True))
        assert len(slots) == len(t)


def test_grid_collisions_match_brute_force_and_keep_rules() -> None:
    boxes = np.array([[0, 0, 60, 60], [10, 10, 50, 50], [5, 5, 58, 57.0]])  # three centres in cell (0, 0)
    layout = grid_layout(7, img_size=448, keep="largest")
    t = encode(boxes, [0, 1, 2], layout, annotation_id=[1, 2, 3])
    assert t.annotation_id.tolist() == [1] and t.collisions == 3
    assert t.dropped["by_annotation_id"].tolist() == [1, 1]
    last = encode(boxes, [0, 1, 2], grid_layout(7, img_size=448, keep="last"), annotation_id=[1, 2, 3])
    assert last.annotation_id.tolist() == [3]
    assert set(last.dropped["annotation_id"]) == {1, 2}


def test_unsorted_image_keys_collide_per_image() -> None:
    boxes = np.array([[0, 0, 60, 60], [10, 10, 50, 50], [0, 0, 60, 60]], dtype=float)
    t = encode(boxes, [0, 0, 0], grid_layout(7, img_size=448), image=[5, 2, 5])
    assert sorted(t.image.tolist()) == [2, 5] and t.collisions == 2


# -- dense layout -------------------------------------------------------------------------------


def test_to_dense_places_the_seed_vector() -> None:
    layout = grid_layout(7, img_size=448, num_classes=3)
    t = encode(cxcywh(200, 300, 100, 150), [2], layout, image=[7])
    keys, (y,) = to_dense(t)
    assert keys.tolist() == [7] and y.shape == (1, 7, 7, 8)
    np.testing.assert_allclose(y[0, 4, 3], [1, 0.125, 0.6875, 100 / 448, 150 / 448, 0, 0, 1], atol=1e-6)
    assert y.sum() == pytest.approx(y[0, 4, 3].sum())
    _, (rep,) = to_dense(t, repeat_predictors=True)
    assert rep.shape == (1, 7, 7, 2 * 5 + 3)
    np.testing.assert_allclose(rep[0, 4, 3, 5:10], rep[0, 4, 3, :5])


def test_to_dense_v3_shapes_and_size_estimate() -> None:
    layout = anchor_layout(num_classes=80)
    t = encode(cxcywh(100, 150, 60, 90), [4], layout, image=[0])
    _keys, grids = to_dense(t, images=[3, 0])
    assert [g.shape for g in grids] == [(2, 3, 52, 52, 85), (2, 3, 26, 26, 85), (2, 3, 13, 13, 85)]
    assert grids[1][1, 2, 9, 6, 0] == 1 and grids[1][1, 2, 9, 6, 5 + 4] == 1
    assert sum(g[0].sum() for g in grids) == 0  # image 3 has no box
    assert dense_bytes(layout, 1) == 10647 * 85 * 4  # ~3.6 MB per image: why targets are sparse


# -- decode(encode(x)) -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    assign=st.sampled_from(["best", "iou:0.4", "ratio:4", "grid"]),
    keep=st.sampled_from(["largest", "last", "all"]),
)
def test_decode_of_encode_returns_every_kept_box(seed: int, n: int, assign: str, keep: str) -> None:
    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, n)
    image = rng.integers(0, 3, n)
    cls = rng.integers(0, 5, n)
    ids = rng.permutation(np.arange(100, 100 + n))
    if assign == "grid":
        layout = grid_layout(13, img_size=416, num_classes=5, keep=keep, wh_units=str(rng.choice(["image", "cell"])))
    else:
        layout = anchor_layout(num_classes=5, assign=assign, keep=keep)
    t = encode(boxes, cls, layout, image=image, annotation_id=ids)
    predictions = decode(t)
    kept = np.setdiff1d(ids, t.dropped["annotation_id"].to_numpy())
    assert sorted(predictions.index.tolist()) == kept.tolist()
    position = {a: i for i, a in enumerate(ids)}
    rows = [position[a] for a in predictions.index]
    np.testing.assert_allclose(predictions[["x_min", "y_min", "x_max", "y_max"]].to_numpy(), boxes[rows], atol=1e-4)
    assert (predictions["image_id"].to_numpy() == image[rows]).all()
    assert (predictions["category_id"].to_numpy() == cls[rows]).all()
    assert len(t.dropped) + len(kept) == n


def test_encode_preserves_input_and_is_deterministic() -> None:
    rng = np.random.default_rng(9)
    boxes = _random_boxes(rng, 200)
    cls = rng.integers(0, 3, 200)
    image = rng.integers(0, 5, 200)
    before = boxes.copy(), cls.copy(), image.copy()
    layout = anchor_layout(num_classes=3, assign="ratio:4")
    a = encode(boxes, cls, layout, image=image)
    b = encode(boxes, cls, layout, image=image)
    for original, now in zip(before, (boxes, cls, image), strict=True):
        np.testing.assert_array_equal(original, now)
    for name, values in a.columns().items():
        assert values.tobytes() == b.columns()[name].tobytes(), name
    assert a.dropped.equals(b.dropped)
