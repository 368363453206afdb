"""``dataprep.evaluate``: every input kind, matching by id or by name, bad input as findings, reports."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import dataprep
from dataprep.dataset import Dataset
from dataprep.errors import InputError, UsageError
from dataprep.evaluation import ClassificationResult, DetectionResult, evaluate

REPO = Path(__file__).resolve().parents[1]
COCO_SAMPLE = REPO / "samples" / "detection" / "coco"
CSV_SAMPLE = REPO / "samples" / "classification" / "csv"
FOLDERS_SAMPLE = REPO / "samples" / "classification" / "folders"


@pytest.fixture(scope="module")
def gt() -> Dataset:
    return dataprep.read(COCO_SAMPLE)


@pytest.fixture(scope="module")
def results(gt: Dataset) -> list[dict]:
    """Jittered copies of the sample's boxes, some with the wrong class, 2-decimal COCO results."""
    rng = np.random.default_rng(0)
    out = []
    anns = gt.annotations
    xyxy = anns[["x_min", "y_min", "x_max", "y_max"]].to_numpy() + rng.normal(0, 1.5, (len(anns), 4))
    for (image_id, category_id), b in zip(anns[["image_id", "category_id"]].itertuples(index=False), xyxy, strict=True):
        c = int(category_id) if rng.random() < 0.85 else int(rng.integers(1, 6))
        bbox = [
            round(float(b[0]), 2),
            round(float(b[1]), 2),
            round(float(b[2] - b[0]), 2),
            round(float(b[3] - b[1]), 2),
        ]
        out.append({"image_id": int(image_id), "category_id": c, "bbox": bbox, "score": round(float(rng.random()), 3)})
    return out


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory, results: list[dict]) -> Path:
    path = tmp_path_factory.mktemp("eval") / "results.json"
    path.write_text(json.dumps(results))
    return path


@pytest.fixture(scope="module")
def reference_stats(results: list[dict]) -> np.ndarray:
    """pycocotools on the sample's own json files and the same results."""
    doc: dict = {"images": [], "annotations": [], "categories": []}
    for f in sorted((COCO_SAMPLE / "annotations").glob("*.json")):
        d = json.loads(f.read_text())
        doc["images"] += d["images"]
        doc["annotations"] += d["annotations"]
        doc["categories"] = d["categories"]
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO()
        g.dataset = doc
        g.createIndex()
        e = COCOeval(g, g.loadRes(results), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats


def test_results_list_from_paths_equals_pycocotools(results_file: Path, reference_stats: np.ndarray) -> None:
    r = evaluate(COCO_SAMPLE, results_file)
    assert isinstance(r, DetectionResult)
    np.testing.assert_allclose(r.stats_list, reference_stats, rtol=0, atol=1e-12)
    assert r.matched_by == {"images": "id", "classes": "id"}
    d = r.to_dict()
    assert d["stats"] == r.stats_list and d["AP"] == r.stats["AP"] and d["ARl"] == r.stats["ARl"]
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in str(r)
    json.dumps(d)  # JSON-ready
    assert set(r.per_class.columns) >= {"AP", "AP50", "AP75", "voc_ap", "voc07_ap", "precision", "recall", "f1"}
    assert r.confusion.shape == (6, 6) and r.confusion.columns[-1] == "background"
    assert len(r.matched_iou) and (r.matched_iou >= 0.5).all()


def test_dataset_with_other_ids_matched_by_file_and_class_name(
    gt: Dataset, results: list[dict], reference_stats: np.ndarray, tmp_path: Path
) -> None:
    """A COCO file with its own image and category ids (renumbered, reordered) gives the same stats."""
    names = gt.categories["name"]
    images = [
        {"id": 1000 + k, "file_name": str(fn), "width": int(w), "height": int(h)}
        for k, (fn, w, h) in enumerate(gt.images[["file_name", "width", "height"]].itertuples(index=False))
    ]
    new_img = dict(zip(gt.images.index, [i["id"] for i in images], strict=True))
    cats = [{"id": 50 + k, "name": str(n)} for k, n in enumerate(reversed(names.tolist()))]
    new_cat = {cid: next(c["id"] for c in cats if c["name"] == names[cid]) for cid in names.index}
    anns = [
        {
            **r,
            "id": k + 1,
            "image_id": new_img[r["image_id"]],
            "category_id": new_cat[r["category_id"]],
            "area": r["bbox"][2] * r["bbox"][3],
            "iscrowd": 0,
        }
        for k, r in enumerate(results)
    ]
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    r = evaluate(COCO_SAMPLE, path)
    assert r.matched_by == {"images": "file name", "classes": "name"}
    np.testing.assert_allclose(r.stats_list, reference_stats, rtol=0, atol=1e-12)


def test_in_memory_dataset_with_scores(gt: Dataset, results_file: Path, reference_stats: np.ndarray) -> None:
    pred = dataprep.formats.coco.read_results(results_file, gt)
    r = evaluate(gt, pred)
    np.testing.assert_allclose(r.stats_list, reference_stats, rtol=0, atol=1e-12)


def test_yolo_label_folder_with_confidence(gt: Dataset, results: list[dict], tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    sizes = gt.images[["file_name", "width", "height"]]
    index = {cid: k for k, cid in enumerate(gt.categories.index)}
    lines: dict[str, list[str]] = {}
    for r in results:
        fn, w, h = sizes.loc[r["image_id"]]
        x, y, bw, bh = r["bbox"]
        lines.setdefault(Path(fn).stem, []).append(
            f"{index[r['category_id']]} {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f} "
            f"{r['score']}"
        )
    for stem, rows in lines.items():
        (labels / f"{stem}.txt").write_text("\n".join(rows) + "\n")
    (labels / "not_an_image.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    r = evaluate(COCO_SAMPLE, labels)
    assert r.matched_by["images"] == "file name"
    assert r.counts["predictions"] == len(results)
    assert r.stats["AP50"] > 0.6
    assert [f.code for f in r.findings] == ["prediction-unknown-image"]


def test_yolo_label_lines_without_a_class_or_score_are_counted(gt: Dataset, tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    stem = Path(gt.images["file_name"].iloc[0]).stem
    lines = ["0 0.5 0.5 0.2 0.2 0.9", "nan 0.5 0.5 0.2 0.2 0.9", "1.5 0.5 0.5 0.2 0.2 0.8", "0 0.5 0.5 0.2 0.2", ""]
    (labels / f"{stem}.txt").write_text("\n".join(lines))
    r = evaluate(COCO_SAMPLE, labels)
    assert r.counts["predictions"] == 1
    codes = {f.code: f.message for f in r.findings}
    assert codes["prediction-unknown-class"].startswith("2 ")  # nan and 1.5: not a class index (no traceback)
    assert codes["prediction-without-score"].startswith("1 ")
    (labels / f"{stem}.txt").write_text("0 0.5 x 0.2 0.2 0.9\n")
    with pytest.raises(InputError, match="not a number") as err:
        evaluate(COCO_SAMPLE, labels)
    assert err.value.path == str(labels / f"{stem}.txt") and err.value.record == "line 1"


def test_bad_predictions_are_counted_findings(gt: Dataset, results: list[dict], tmp_path: Path) -> None:
    bad = [dict(r) for r in results]
    bad[1]["image_id"] = 99999
    bad[2]["category_id"] = 77
    bad[3]["bbox"] = [10, 10, -5, 4]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    r = evaluate(COCO_SAMPLE, path)
    codes = {f.code: f for f in r.findings}
    assert set(codes) == {"prediction-unknown-image", "prediction-unknown-class", "prediction-negative-size"}
    assert all(f.message.startswith("1 ") for f in codes.values())
    assert r.counts["predictions"] == len(results) - 2  # the negative-size box is kept, as pycocotools keeps it
    # NaN scores: in a results file the reader names the record; in memory they are dropped and counted
    bad[0]["score"] = float("nan")
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"\[0\]\.score"):
        evaluate(COCO_SAMPLE, path)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(results))
    pred = dataprep.formats.coco.read_results(ok, gt)
    pred = pred.replace(annotations=pred.annotations.assign(score=np.r_[np.nan, pred.annotations["score"].iloc[1:]]))
    r = evaluate(gt, pred)
    (nan,) = r.findings
    assert nan.code == "prediction-nan-score" and str(nan.severity) == "error" and nan.message.startswith("1 ")


def test_results_dict_without_annotations_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "res.json"
    path.write_text(json.dumps({"detections": []}))
    with pytest.raises(InputError, match="list of detections"):
        evaluate(COCO_SAMPLE, path)


def test_split_and_unknown_split(results_file: Path) -> None:
    r = evaluate(COCO_SAMPLE, results_file, split="test")
    assert r.counts["images"] == 5
    with pytest.raises(UsageError, match="no images in split 'nope'"):
        evaluate(COCO_SAMPLE, results_file, split="nope")
    with pytest.raises(UsageError):
        evaluate(COCO_SAMPLE, results_file, iou=1.5)


def test_classification_csv_labels_scores_and_folders(tmp_path: Path) -> None:
    gt = dataprep.read(CSV_SAMPLE)
    skl = pytest.importorskip("sklearn.metrics")
    names = gt.categories["name"].tolist()
    first = gt.annotations.drop_duplicates("image_id").set_index("image_id")["category_id"]
    files = gt.images.loc[first.index, "file_name"]
    rng = np.random.default_rng(1)
    true_idx = first.map({c: k for k, c in enumerate(gt.categories.index)}).to_numpy()
    pred_idx = np.where(rng.random(len(true_idx)) < 0.8, true_idx, rng.integers(0, len(names), len(true_idx)))
    pd.DataFrame({"file_name": files.to_numpy(), "label": [names[i] for i in pred_idx], "score": 0.9}).to_csv(
        tmp_path / "pred.csv", index=False
    )
    r = evaluate(CSV_SAMPLE, tmp_path / "pred.csv")
    assert isinstance(r, ClassificationResult)
    assert r.accuracy == pytest.approx(skl.accuracy_score(true_idx, pred_idx))
    assert r.to_dict()["accuracy"] == r.accuracy
    scores = rng.random((len(true_idx), len(names)))
    scores[np.arange(len(true_idx)), pred_idx] = 2.0
    pd.concat([pd.DataFrame({"file_name": files.to_numpy()}), pd.DataFrame(scores, columns=names)], axis=1).to_csv(
        tmp_path / "scores.csv", index=False
    )
    r2 = evaluate(CSV_SAMPLE, tmp_path / "scores.csv")
    assert r2.accuracy == r.accuracy
    assert r2.top_k["top5"] == pytest.approx(skl.top_k_accuracy_score(true_idx, scores, k=5))
    r3 = evaluate(CSV_SAMPLE, FOLDERS_SAMPLE)  # the same digits as a folders dataset: perfect
    assert r3.accuracy == 1.0 and r3.matched_by["images"] == "file name"
    assert evaluate(FOLDERS_SAMPLE, CSV_SAMPLE).accuracy == 1.0  # and the other way round: a csv dataset


def test_write_report(results_file: Path, tmp_path: Path) -> None:
    r = evaluate(COCO_SAMPLE, results_file)
    out = r.write_report(tmp_path / "report")
    names = {p.name for p in out.iterdir()}
    assert {
        "index.html",
        "result.json",
        "confusion.png",
        "pr_curves.png",
        "class_ap.png",
        "iou_histogram.png",
        "samples.png",
    } <= names
    page = (out / "index.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count("data:image/png;base64,") == 6
    assert json.loads((out / "result.json").read_text())["stats"] == r.stats_list
    with pytest.raises(dataprep.errors.OutputError):
        r.write_report(out)


def test_segm_results_file_without_boxes_equals_pycocotools(tmp_path: Path) -> None:
    """RLE results without 'bbox' (areas from the masks, as loadRes) against polygon ground truth."""
    from pycocotools import mask as mask_utils

    doc: dict = {"images": [], "annotations": [], "categories": []}
    for f in sorted((COCO_SAMPLE / "annotations").glob("*.json")):
        d = json.loads(f.read_text())
        doc["images"] += d["images"]
        doc["annotations"] += [a for a in d["annotations"] if a["segmentation"]]
        doc["categories"] = d["categories"]
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(doc))
    sizes = {i["id"]: (i["height"], i["width"]) for i in doc["images"]}
    rng = np.random.default_rng(5)
    results = []
    for a in doc["annotations"]:
        h, w = sizes[a["image_id"]]
        poly = (np.asarray(a["segmentation"][0]) + rng.normal(0, 1.0, len(a["segmentation"][0]))).tolist()
        rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
        rle["counts"] = rle["counts"].decode("ascii")
        results.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "segmentation": rle,
                "score": round(float(rng.random()), 2),
            }
        )
    res_path = tmp_path / "segm.json"
    res_path.write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt_path))
        e = COCOeval(g, g.loadRes(str(res_path)), "segm")
        e.evaluate()
        e.accumulate()
        e.summarize()
    r = evaluate(gt_path, res_path, iou_type="segm")
    np.testing.assert_allclose(r.stats_list, e.stats, rtol=0, atol=1e-12)
