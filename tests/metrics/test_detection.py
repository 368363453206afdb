"""Detection metrics: COCO stats equal to pycocotools (hypothesis), VOC AP and confusion by hand."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dataprep.dataset import Dataset
from dataprep.evaluation import evaluate
from dataprep.metrics import detection as det

SIZE = 24  # images are SIZE x SIZE: small integer boxes make IoU ties and exact threshold hits common


def pycocotools_eval(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: str = "bbox") -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            coco_dt.createIndex()
        e = COCOeval(coco_gt, coco_dt, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def to_datasets(gt: dict[str, Any], results: list[dict[str, Any]]) -> tuple[Dataset, Dataset]:
    """The same documents as dataprep tables (boxes xyxy = x + w, as the COCO reader stores them)."""

    def rows(anns: list[dict[str, Any]], ids: list[int]) -> dict[str, Any]:
        xywh = np.array([a["bbox"] for a in anns], dtype=float).reshape(-1, 4)
        segs = []
        for a in anns:
            s = a.get("segmentation")
            if isinstance(s, list) and s:
                s = [np.asarray(p, dtype=float).reshape(-1, 2) for p in s]
            segs.append(s if s else None)
        return {
            "annotation_id": ids,
            "image_id": [a["image_id"] for a in anns],
            "category_id": [a["category_id"] for a in anns],
            "x_min": xywh[:, 0],
            "y_min": xywh[:, 1],
            "x_max": xywh[:, 0] + xywh[:, 2],
            "y_max": xywh[:, 1] + xywh[:, 3],
            "segmentation": segs,
            "iscrowd": [bool(a.get("iscrowd", 0)) for a in anns],
            "score": [a.get("score", np.nan) for a in anns],
            "area": [a.get("area", np.nan) for a in anns],
        }

    images = {
        "image_id": [i["id"] for i in gt["images"]],
        "file_name": [f"{i['id']}.png" for i in gt["images"]],
        "width": [SIZE] * len(gt["images"]),
        "height": [SIZE] * len(gt["images"]),
    }
    cats = {"category_id": [c["id"] for c in gt["categories"]], "name": [f"c{c['id']}" for c in gt["categories"]]}
    g = Dataset.from_frames(images, rows(gt["annotations"], [a["id"] for a in gt["annotations"]]), cats)
    p = Dataset.from_frames(images, rows(results, list(range(1, len(results) + 1))), cats)
    return g, p


@st.composite
def coco_pairs(draw: st.DrawFn, *, segm: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """GT document + results list: sparse ids, crowd, empty images, score ties, unmatched classes."""
    image_ids = draw(st.lists(st.integers(1, 500), min_size=1, max_size=5, unique=True))
    cat_ids = sorted(draw(st.lists(st.integers(1, 90), min_size=1, max_size=3, unique=True)))
    box = st.tuples(st.integers(0, SIZE - 2), st.integers(0, SIZE - 2), st.integers(1, 12), st.integers(1, 12))
    anns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    next_id = draw(st.integers(1, 50))
    for image_id in image_ids:
        for _ in range(draw(st.integers(0, 4))):
            x, y, w, h = draw(box)
            w, h = min(w, SIZE - x), min(h, SIZE - y)
            crowd = draw(st.integers(0, 5)) == 0
            ann = {
                "id": next_id,
                "image_id": image_id,
                "category_id": draw(st.sampled_from(cat_ids)),
                "bbox": [x, y, w, h],
                "iscrowd": int(crowd),
                "area": float(draw(st.sampled_from([w * h, 2 * w * h, 32 * 32, 50 * 50, 96 * 96, 100 * 100 + 1]))),
            }
            if segm:
                poly = [x, y, x + w, y, x + w, y + h]
                if crowd or draw(st.booleans()):
                    m = np.zeros((SIZE, SIZE), dtype=np.uint8, order="F")
                    m[y : y + h, x : x + w] = 1
                    rle = mask_utils.encode(m)
                    rle["counts"] = rle["counts"].decode("ascii")
                    ann["segmentation"] = rle
                else:
                    ann["segmentation"] = [poly]
            anns.append(ann)
            next_id += draw(st.integers(1, 3))
        for _ in range(draw(st.integers(0, 5))):
            x, y, w, h = draw(box)
            res = {
                "image_id": image_id,
                "category_id": draw(st.sampled_from([*cat_ids, 99])),
                "bbox": [x, y, min(w, SIZE - x), min(h, SIZE - y)],
                "score": draw(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])),
            }
            if segm:
                m = np.zeros((SIZE, SIZE), dtype=np.uint8, order="F")
                m[y : y + h, x : x + w] = 1
                m[y, x : x + w] = 0
                rle = mask_utils.encode(m)
                rle["counts"] = rle["counts"].decode("ascii")
                res = {k: v for k, v in res.items() if k != "bbox"}
                res["segmentation"] = rle
            results.append(res)
    gt = {
        "images": [{"id": i, "width": SIZE, "height": SIZE, "file_name": f"{i}.png"} for i in image_ids],
        "annotations": anns,
        "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids],
    }
    return gt, results


def assert_same(ours: Any, ref: COCOeval) -> None:
    np.testing.assert_allclose(ours.stats_list, ref.stats, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_pairs())
def test_bbox_stats_equal_pycocotools(pair: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    gt, results = pair
    results = [r for r in results if r["category_id"] != 99 or True]
    ref = pycocotools_eval(gt, results)
    g, p = to_datasets(gt, results)
    assert_same(evaluate(g, p), ref)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_pairs(segm=True))
def test_segm_stats_equal_pycocotools(pair: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    gt, results = pair
    ref = pycocotools_eval(gt, results, "segm")
    g, p = to_datasets(gt, results)
    # pycocotools' loadRes takes a result's area from its mask when it has no bbox
    assert_same(evaluate(g, p.replace(annotations=p.annotations.assign(x_min=np.nan)), iou_type="segm"), ref)


def test_precision_arrays_identical_on_random_sets() -> None:
    """The whole (T, R, K, A, M) precision array, not only the 12 means, bit for bit."""
    rng = np.random.default_rng(3)
    images = [{"id": int(i), "width": 200, "height": 200} for i in rng.choice(999, 40, replace=False) + 1]
    cats = [{"id": c, "name": f"c{c}"} for c in (2, 5, 11)]
    anns, results = [], []
    for im in images:
        for _ in range(rng.integers(0, 6)):
            x, y = np.round(rng.uniform(0, 150, 2), 2)
            w, h = np.round(rng.uniform(1, 110, 2), 2)
            c = int(rng.choice([2, 5, 11]))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": c,
                    "bbox": [x, y, w, h],
                    "area": float(w * h),
                    "iscrowd": int(rng.random() < 0.1),
                }
            )
            for _ in range(rng.integers(0, 3)):
                j = np.round(rng.normal(0, 6, 4), 2)
                results.append(
                    {
                        "image_id": im["id"],
                        "category_id": c,
                        "score": float(np.round(rng.random(), 1)),
                        "bbox": [x + j[0], y + j[1], max(w + j[2], 1.0), max(h + j[3], 1.0)],
                    }
                )
    gt = {"images": images, "annotations": anns, "categories": cats}
    ref = pycocotools_eval(gt, results)
    objs = lambda rows, is_gt: det.Objects(  # noqa: E731
        np.array([r["image_id"] for r in rows]),
        np.array([r["category_id"] for r in rows]),
        np.array([r["bbox"] for r in rows], dtype=float),
        np.array([r["area"] if is_gt else r["bbox"][2] * r["bbox"][3] for r in rows], dtype=float),
        np.array([bool(r.get("iscrowd", 0)) for r in rows]),
        np.array([r.get("score", np.nan) for r in rows]),
        np.array([r["id"] if is_gt else k + 1 for k, r in enumerate(rows)]),
    )
    ours = det.coco_evaluate(
        objs(anns, True), objs(results, False), np.array(sorted(i["id"] for i in images)), np.array([2, 5, 11])
    )
    assert np.array_equal(ours.precision, ref.eval["precision"])
    assert np.array_equal(ours.recall, ref.eval["recall"])
    assert np.array_equal(ours.stats, ref.stats)


def test_more_than_100_detections_per_image_and_class() -> None:
    """maxDets 1/10/100 cut per image and class, with score ties across the cut."""
    rng = np.random.default_rng(7)
    images = [{"id": i, "width": 400, "height": 400} for i in (4, 9)]
    anns, results = [], []
    for image_id in (4, 9):
        for _ in range(120):
            x, y = float(rng.integers(0, 380)), float(rng.integers(0, 380))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [x, y, 20.0, 20.0],
                    "area": float(rng.choice([400.0, 2000.0, 10000.0])),
                    "iscrowd": 0,
                }
            )
        for _ in range(150):
            a = anns[int(rng.integers(0, len(anns)))]
            jitter = [float(v) for v in rng.integers(-4, 5, 2)]
            results.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "score": float(rng.choice([0.3, 0.6, 0.9])),
                    "bbox": [a["bbox"][0] + jitter[0], a["bbox"][1] + jitter[1], 20.0, 20.0],
                }
            )
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]}
    ref = pycocotools_eval(gt, results)
    g, p = to_datasets(gt, results)
    assert_same(evaluate(g, p), ref)


def test_gt_annotation_id_zero_never_matches_like_pycocotools() -> None:
    gt = {
        "images": [{"id": 1, "width": 50, "height": 50}],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "area": 100, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "score": 0.8},
    ]
    ref = pycocotools_eval(gt, results)
    g, p = to_datasets(gt, results)
    assert_same(evaluate(g, p), ref)
    assert ref.stats[0] < 1  # the id-0 object's perfect detection counted as a false positive


def test_no_ground_truth_annotations_gives_minus_one() -> None:
    gt = {"images": [{"id": 3, "width": 9, "height": 9}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    results = [{"image_id": 3, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5}]
    ref = pycocotools_eval(gt, results)
    g, p = to_datasets(gt, results)
    result = evaluate(g, p)
    assert result.stats_list == list(ref.stats) == [-1.0] * 12
    assert result.voc["mAP"] == -1.0


def test_voc_ap_hand_computed() -> None:
    # 3 objects; detections by score: TP, FP, TP, FP, TP -> precision 1, 1/2, 2/3, 2/4, 3/5 at recall 1/3 .. 1
    rec = np.array([1, 1, 2, 2, 3]) / 3
    prec = np.array([1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    # all-point: envelope 1 up to 1/3, 2/3 up to 2/3, 3/5 up to 1
    assert det.voc_ap(rec, prec) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3, abs=1e-15)
    # 11-point: r = 0 .. 0.3 -> 1 (4 points); 0.4 .. 0.6 -> 2/3 (3); 0.7 .. 1.0 -> 3/5 (4)
    assert det.voc_ap(rec, prec, use_07_metric=True) == pytest.approx((4 + 3 * 2 / 3 + 4 * 3 / 5) / 11, abs=1e-15)


def test_voc_evaluate_devkit_matching() -> None:
    """A duplicate of a taken object is a false positive; a difficult object neither counts nor penalises."""
    xywh = np.array([[0, 0, 10, 10], [20, 20, 10, 10], [40, 40, 10, 10]], dtype=float)
    gt = det.Objects(
        np.array([1, 1, 1]),
        np.array([1, 1, 1]),
        xywh,
        xywh[:, 2] * xywh[:, 3],
        np.zeros(3, bool),
        np.full(3, np.nan),
        np.array([1, 2, 3]),
        ignore=np.array([False, False, True]),
    )
    dxywh = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [40, 40, 10, 10], [60, 60, 5, 5], [20, 21, 10, 10]], float)
    dt = det.Objects(
        np.ones(5, np.int64),
        np.ones(5, np.int64),
        dxywh,
        dxywh[:, 2] * dxywh[:, 3],
        np.zeros(5, bool),
        np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
        np.arange(1, 6),
    )
    voc = det.voc_evaluate(gt, dt, np.array([1]), np.array([1]), iou=0.5)
    # counted: TP, FP (duplicate), -, FP, TP over 2 objects -> rec [.5 .5 .5 .5 1], prec [1 .5 .5 1/3 .5]
    assert voc.ap[0] == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert voc.n_gt[0] == 2


def test_confusion_matrix_hand_computed() -> None:
    # image 1: a (class 1) found as class 1; b (class 2) found as class 1; c (class 2) missed;
    # a low-score detection ignored (conf); a false positive of class 2. image 2: a lone FP of class 1.
    gt_xywh = np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10]], float)
    gt = det.Objects(
        np.array([1, 1, 1]),
        np.array([1, 2, 2]),
        gt_xywh,
        np.full(3, 100.0),
        np.zeros(3, bool),
        np.full(3, np.nan),
        np.array([1, 2, 3]),
    )
    d_xywh = np.array([[0, 0, 10, 10], [21, 0, 10, 10], [40, 0, 10, 10], [70, 70, 5, 5], [0, 0, 10, 10]], float)
    dt = det.Objects(
        np.array([1, 1, 1, 1, 2]),
        np.array([1, 1, 2, 2, 1]),
        d_xywh,
        np.full(5, 100.0),
        np.zeros(5, bool),
        np.array([0.9, 0.8, 0.1, 0.7, 0.6]),
        np.arange(1, 6),
    )
    m = det.confusion_matrix(gt, dt, np.array([1, 2]), iou=0.45, conf=0.25)
    expected = np.array(
        [
            [1, 1, 1],  # predicted 1: true 1, true 2 (wrong class), background (image 2)
            [0, 0, 1],  # predicted 2: one false positive
            [0, 1, 0],  # background: c missed
        ]
    )
    np.testing.assert_array_equal(m, expected)


def test_error_breakdown_kinds() -> None:
    gt_xywh = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [80, 0, 10, 10]], float)
    gt = det.Objects(
        np.ones(3, np.int64),
        np.array([1, 2, 1]),
        gt_xywh,
        np.full(3, 100.0),
        np.zeros(3, bool),
        np.full(3, np.nan),
        np.array([1, 2, 3]),
    )
    d_xywh = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 10, 10], [4, 0, 10, 10], [200, 200, 5, 5], [56, 50, 10, 10]], float
    )
    dt = det.Objects(
        np.ones(6, np.int64),
        np.array([1, 1, 1, 1, 1, 3]),
        d_xywh,
        np.full(6, 100.0),
        np.zeros(6, bool),
        np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
        np.arange(1, 7),
    )
    img, cats = np.array([1]), np.array([1, 2, 3])
    m = det.match(gt, dt, img, cats, iou_thresholds=np.array([0.5]), area_ranges=[det.AREA_RANGES["all"]])
    e = det.error_breakdown(gt, dt, m, img, cats, fg=0.5)
    assert list(e.kind) == ["", "duplicate", "classification", "localization", "background", "both"]
    assert e.counts["missed"] == 1  # the object at x=80: nothing points at it
    # fixing the class-1 detection on the class-2 object gives class 2 an AP of 1 (from 0); 2 classes have GT
    assert e.delta_ap["classification"] == pytest.approx(0.5)
    assert e.delta_ap["duplicate"] == 0  # it ranks below the true positive: precision at its recall is already 1


def test_coco_xywh_recovers_file_widths() -> None:
    x = np.array([0.1, 12.35, 1e3 + 0.7])
    w = np.array([0.2, 7.15, 0.3])
    xyxy = np.stack([x, x, x + w, x + w], axis=1)
    out = det.coco_xywh(xyxy)
    np.testing.assert_array_equal(out[:, 2], w)
    np.testing.assert_array_equal(out[:, 0] + out[:, 2], xyxy[:, 2])
