"""k-means anchors: planted clusters found, seeded, sorted, split across scales; fit metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dataprep
from dataprep.encoding import YOLOV3_ANCHORS, anchor_fit, box_sizes, kmeans_anchors
from dataprep.errors import UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "detection" / "coco"
PLANTED = np.array([[12.0, 20.0], [48.0, 40.0], [90.0, 160.0], [200.0, 110.0], [300.0, 320.0], [25.0, 70.0]])


def _planted(rng: np.random.Generator, per: int = 400, noise: float = 0.04) -> np.ndarray:
    return np.concatenate([c * np.exp(rng.normal(0, noise, (per, 2))) for c in PLANTED])


def test_recovers_planted_clusters() -> None:
    fit = kmeans_anchors(_planted(np.random.default_rng(0)), 6, scales=2, seed=1)
    expected = PLANTED[np.argsort(PLANTED.prod(axis=1))]
    np.testing.assert_allclose(fit.anchors, expected, rtol=0.03)
    assert fit.scale.tolist() == [0, 0, 0, 1, 1, 1]
    assert fit.mean_iou > 0.9 and fit.bpr == 1.0


def test_seeded_and_sorted_by_area() -> None:
    wh = np.exp(np.random.default_rng(2).normal(3.5, 0.8, (3000, 2)))
    a = kmeans_anchors(wh, 9, seed=5, restarts=2)
    b = kmeans_anchors(wh, 9, seed=5, restarts=2)
    assert a.anchors.tobytes() == b.anchors.tobytes()
    area = a.anchors.prod(axis=1)
    assert (np.diff(area) >= 0).all()


def test_restarts_run_on_a_sample_then_refine() -> None:
    wh = np.exp(np.random.default_rng(3).normal(3.5, 0.8, (5000, 2)))
    full = kmeans_anchors(wh, 9, seed=0, restarts=2)
    sampled = kmeans_anchors(wh, 9, seed=0, restarts=2, sample=500)
    assert sampled.mean_iou == pytest.approx(full.mean_iou, abs=0.01)


def test_fit_metrics_by_hand() -> None:
    fit = anchor_fit([[10, 10], [40, 10]], [[10, 10]], ratio_threshold=4.0)
    assert fit.mean_iou == pytest.approx((1 + 0.25) / 2)
    assert fit.bpr == 0.5  # 40 / 10 = 4 is not < 4
    assert fit.anchors_above == 0.5


def test_k_above_distinct_sizes_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--k 9 is more than the 2 distinct box sizes.*--k 2"):
        kmeans_anchors([[10, 10], [10, 10], [20, 30]], 9, scales=1)


def test_k_not_split_across_scales_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--scales 3"):
        kmeans_anchors(_planted(np.random.default_rng(0)), 4, scales=3)


def test_bpr_of_yolov3_defaults_on_the_samples() -> None:
    ds = dataprep.read(SAMPLES)
    wh = box_sizes(ds, 416)
    given = anchor_fit(wh, YOLOV3_ANCHORS, scales=3)
    computed = kmeans_anchors(wh, 9, seed=0)
    print(
        f"\nsamples/detection/coco at 416 px, {given.num_boxes} boxes: YOLOv3 anchors mean IoU {given.mean_iou:.4f} "
        f"BPR {given.bpr:.4f} anchors/box {given.anchors_above:.2f}; k-means (k=9) mean IoU {computed.mean_iou:.4f} "
        f"BPR {computed.bpr:.4f}"
    )
    assert given.num_boxes == len(ds.annotations)
    assert given.bpr == 1.0
    assert computed.mean_iou > given.mean_iou
