"""decode: raw network outputs -> boxes, scores, per-class NMS, predictions table in image pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataprep.dataset import ANNOTATION_COLUMNS
from dataprep.encoding import anchor_layout, decode, encode, grid_layout, letterbox, to_dense
from dataprep.errors import UsageError


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _outputs_from_targets(targets, images) -> list[np.ndarray]:
    """Raw darknet-style outputs that decode to exactly the targets (P and classes saturated)."""
    _keys, grids = to_dense(targets, images=images)
    outs = []
    for g in grids:
        raw = np.where(g[..., :1] > 0, 12.0, -12.0) * np.ones_like(g[..., :1])
        xy = _logit(g[..., 1:3].astype(np.float64))
        wh = g[..., 3:5]
        cls = np.where(g[..., 5:] > 0, 12.0, -12.0)
        outs.append(np.concatenate([raw, xy, wh, cls], axis=-1).astype(np.float32))
    return outs


def test_raw_outputs_decode_to_the_encoded_boxes() -> None:
    layout = anchor_layout(num_classes=3)
    boxes = np.array([[20, 30, 80, 120], [200, 200, 380, 400], [100, 10, 130, 40]], dtype=float)
    t = encode(boxes, [0, 2, 1], layout, image=[0, 1, 1])
    outs = _outputs_from_targets(t, [0, 1])
    pred = decode(outs, layout, image_ids=[10, 11], conf_threshold=0.5)
    assert list(pred.columns) == list(ANNOTATION_COLUMNS) and pred.index.name == "annotation_id"
    assert pred["image_id"].tolist() == [10, 11, 11]
    assert (pred["score"] > 0.99).all()
    got = pred.sort_values(["image_id", "x_min"])[["x_min", "y_min", "x_max", "y_max"]].to_numpy()
    np.testing.assert_allclose(got, boxes[[0, 2, 1]], atol=1e-3)


def test_torch_tensors_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    layout = grid_layout(7, img_size=448, num_classes=2)
    out = torch.full((1, 7, 7, 7), -10.0)
    out[0, 3, 2] = torch.tensor([10.0, 0.0, 0.0, 0.0, 0.0, 10.0, -10.0])  # P, x, y, w, h, c0, c1
    pred = decode([out], layout, category_ids=[5, 9])
    assert len(pred) == 1 and pred["category_id"].tolist() == [5]
    # grid, darknet activation: x = (col + σ(0)) * 64, w = σ(0) * 448
    np.testing.assert_allclose(pred[["x_min", "x_max"]].to_numpy()[0], [2.5 * 64 - 112, 2.5 * 64 + 112])


def test_darknet_v1_output_with_b_predictors() -> None:
    layout = grid_layout(7, img_size=448, num_classes=3, predictors=2)
    out = np.full((2, 7, 7, 2 * 5 + 3), -10.0)
    out[1, 0, 0, 5:10] = [10, 0, 0, -1, -1]  # predictor 1 of cell (0, 0) of image 1
    out[1, 0, 0, 10:] = [-10, 10, -10]  # shared classes: class 1
    pred = decode([out], layout)
    assert pred[["image_id", "category_id"]].values.tolist() == [[1, 1]]


def test_nms_is_per_class_and_per_image() -> None:
    layout = anchor_layout([[40, 40]], img_size=64, strides=(32,), num_classes=2)
    out = np.full((2, 1, 2, 2, 7), -10.0)
    # two near-identical boxes in neighbouring cells, class 0, scores differ
    out[0, 0, 0, 0] = [3, 5, 5, 0, 0, 10, -10]
    out[0, 0, 0, 1] = [2, -30, 5, 0, 0, 10, -10]  # x centre ≈ 32: overlaps the first strongly
    out[1, 0, 0, 0] = [3, 5, 5, 0, 0, 10, -10]
    out[1, 0, 0, 1] = [2, -30, 5, 0, 0, -10, 10]  # other class: kept
    pred = decode([out], layout, iou_threshold=0.45, conf_threshold=0.1)
    assert pred.groupby("image_id").size().to_dict() == {0: 1, 1: 2}
    assert decode([out], layout, conf_threshold=0.1, nms=False).shape[0] == 4
    assert decode([out], layout, conf_threshold=0.1, max_det=1).groupby("image_id").size().tolist() == [1, 1]


def test_boxes_map_back_to_image_pixels() -> None:
    layout = anchor_layout(num_classes=1)
    images = pd.DataFrame({"width": [128], "height": [96]}, index=pd.Index([7], name="image_id"))
    box = np.array([[30.0, 20.0, 60.0, 70.0]])
    t = encode(letterbox(box, 128, 96, img_size=416), [0], layout, image=[7])
    pred = decode(t, images=images)
    np.testing.assert_allclose(pred[["x_min", "y_min", "x_max", "y_max"]].to_numpy(), box, atol=1e-9)


def test_wrong_output_shape_is_named() -> None:
    layout = anchor_layout(num_classes=3)
    outs = [np.zeros((1, 3, s, s, 8)) for s in (52, 26, 13)]
    outs[1] = np.zeros((1, 3, 26, 26, 9))
    with pytest.raises(UsageError, match=r"scale 1 output has shape \(1, 3, 26, 26, 9\), expected \(N, 3, 26, 26, 8\)"):
        decode(outs, layout)
    with pytest.raises(UsageError, match="3 scales"):
        decode(outs[:2], layout)


def test_nms_equals_torchvision_batched_nms() -> None:
    torchvision = pytest.importorskip("torchvision")
    import torch

    from dataprep.encoding.decode import _batched_nms

    rng = np.random.default_rng(0)
    n = 3000
    xy = rng.uniform(0, 400, (n, 2))
    xyxy = np.concatenate([xy, xy + rng.uniform(5, 60, (n, 2))], axis=1)
    score = rng.uniform(0, 1, n)
    image, cls = rng.integers(0, 4, n), rng.integers(0, 3, n)
    ours = _batched_nms(xyxy, score, image, cls, 0.5)
    ref = torchvision.ops.batched_nms(
        torch.from_numpy(xyxy), torch.from_numpy(score), torch.from_numpy(image * 3 + cls), 0.5
    ).numpy()
    assert sorted(ours.tolist()) == sorted(ref.tolist())


def test_ultralytics_activation() -> None:
    layout = anchor_layout([[40, 80]], img_size=64, strides=(32,), num_classes=1)
    out = np.full((1, 1, 2, 2, 6), -10.0)
    out[0, 0, 1, 0] = [10, 0, 0, 0, 0, 10]  # σ(0) = 0.5: x = (0 + 2·0.5 - 0.5)·32, w = (2·0.5)²·40
    pred = decode([out], layout, activation="ultralytics")
    np.testing.assert_allclose(pred[["x_min", "y_min", "x_max", "y_max"]].to_numpy()[0], [-4, 8, 36, 88])
