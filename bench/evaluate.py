#!/usr/bin/env python
"""Benchmark COCO evaluation: dataprep vs pycocotools vs faster-coco-eval, same files, same run.

Generates a synthetic COCO ground truth (``--images`` images, ~4 boxes each, 80 sparse category
ids, a few crowd regions) and a results list (~0.8 jittered detections per object, 10% of them
of the wrong class, plus ~1.3 background detections per image, 3-decimal scores so ties
happen), then times whole processes (Python start-up and json parsing included) with their
peak memory, and checks that every tool's 12 stats are identical to pycocotools'. Prints a
rich table.

    python bench/evaluate.py                    # 50,000 images
    python bench/evaluate.py --images 5000      # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(root: Path, n_images: int, seed: int = 0) -> tuple[int, int]:
    """Write ``root/gt.json`` and ``root/results.json``; return (objects, detections)."""
    import numpy as np
    import orjson

    rng = np.random.default_rng(seed)
    sizes = [(640, 480), (480, 640), (800, 600), (1024, 768)]
    cat_ids = np.sort(rng.choice(np.arange(1, 91), 80, replace=False))
    images, anns, results = [], [], []
    ann_id = 1
    for i in range(n_images):
        w, h = sizes[int(rng.integers(0, len(sizes)))]
        images.append({"id": i + 1, "file_name": f"{i:012d}.jpg", "width": w, "height": h})
        k = int(rng.integers(0, 9))
        x0 = rng.uniform(0, w * 0.8, k).round(2)
        y0 = rng.uniform(0, h * 0.8, k).round(2)
        bw = np.minimum(rng.uniform(4, w * 0.4, k), w - x0).round(2)
        bh = np.minimum(rng.uniform(4, h * 0.4, k), h - y0).round(2)
        cats = rng.choice(cat_ids, k)
        crowd = rng.random(k) < 0.01
        for j in range(k):
            anns.append(
                {
                    "id": ann_id,
                    "image_id": i + 1,
                    "category_id": int(cats[j]),
                    "bbox": [float(x0[j]), float(y0[j]), float(bw[j]), float(bh[j])],
                    "area": float(round(bw[j] * bh[j] * 0.7, 2)),
                    "iscrowd": int(crowd[j]),
                    "segmentation": [],
                }
            )
            ann_id += 1
            if rng.random() < 0.8:
                jit = rng.normal(0, 0.08, 4) * np.array([bw[j], bh[j], bw[j], bh[j]])
                c = int(cats[j]) if rng.random() < 0.9 else int(rng.choice(cat_ids))
                results.append(
                    {
                        "image_id": i + 1,
                        "category_id": c,
                        "bbox": [
                            round(float(x0[j] + jit[0]), 2),
                            round(float(y0[j] + jit[1]), 2),
                            round(float(max(bw[j] + jit[2], 1.0)), 2),
                            round(float(max(bh[j] + jit[3], 1.0)), 2),
                        ],
                        "score": round(float(rng.beta(5, 2)), 3),
                    }
                )
        for _ in range(int(rng.poisson(1.3))):
            x, y = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(rng.choice(cat_ids)),
                    "bbox": [
                        round(x, 2),
                        round(y, 2),
                        round(rng.uniform(4, w * 0.2), 2),
                        round(rng.uniform(4, h * 0.2), 2),
                    ],
                    "score": round(float(rng.beta(2, 5)), 3),
                }
            )
    doc = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": int(c), "name": f"class_{c:02d}", "supercategory": "thing"} for c in cat_ids],
    }
    (root / "gt.json").write_bytes(orjson.dumps(doc))
    (root / "results.json").write_bytes(orjson.dumps(results))
    return len(anns), len(results)


# Each case prints the 12 stats as JSON on its last stdout line.
PYCOCOTOOLS = """
import contextlib, io, json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    e = COCOeval(gt, dt, "bbox"); e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps(e.stats.tolist()))
"""
FASTER = """
import contextlib, io, json, sys
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    e = COCOeval_faster(gt, dt, "bbox", print_function=lambda *a, **k: None)
    e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps([float(s) for s in e.stats]))
"""
DATAPREP_STATS = """
import json, sys
import numpy as np
import dataprep
from dataprep.formats import coco
from dataprep.evaluation import _objects
from dataprep.metrics.detection import coco_evaluate
gt = dataprep.read(sys.argv[1])
pred = coco.read_results(sys.argv[2], gt)
r = coco_evaluate(_objects(gt, is_gt=True, iou_type="bbox"), _objects(pred, is_gt=False, iou_type="bbox"),
                  gt.images.index.to_numpy(), gt.categories.index.to_numpy())
print(json.dumps(r.stats.tolist()))
"""
DATAPREP_ALL = """
import json, sys
import dataprep
r = dataprep.evaluate(sys.argv[1], sys.argv[2])
print(json.dumps(r.stats_list))
"""


def _run_measured(code: str, gt: Path, res: Path) -> tuple[float, float, list[float] | None, str]:
    """Run `code` in a fresh interpreter: (wall s, the child's peak RSS MB, its stats, stderr tail)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(gt), str(res)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    code_ = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    stats = json.loads(out.decode().strip().splitlines()[-1]) if code_ == 0 and out.strip() else None
    return seconds, usage.ru_maxrss / 1024, stats, err.decode(errors="replace")[-300:]


def _importable(module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the best is shown")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the data (default: a temp dir)")
    parser.add_argument("--generate-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only is not None:
        objects, dets = generate(args.generate_only, args.images)
        print(json.dumps([objects, dets]))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    with tempfile.TemporaryDirectory(prefix="dp-eval-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        # generated in a child so this process stays small (Linux counts the parent's RSS at spawn)
        out = subprocess.run(
            [sys.executable, __file__, "--images", str(args.images), "--generate-only", str(root)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        objects, dets = json.loads(out.strip().splitlines()[-1])
        console.print(f"{args.images:,} images, {objects:,} ground-truth boxes, {dets:,} detections, 80 classes")
        cases = [("pycocotools", PYCOCOTOOLS)]
        if _importable("faster_coco_eval"):
            cases.append(("faster-coco-eval", FASTER))
        cases += [("dataprep (COCO stats)", DATAPREP_STATS), ("dataprep evaluate (all metrics)", DATAPREP_ALL)]
        rows = []
        reference = None
        for name, code in cases:
            best = None
            for _ in range(args.repeat):
                res = _run_measured(code, root / "gt.json", root / "results.json")
                if best is None or res[0] < best[0]:
                    best = res
            assert best is not None
            seconds, peak, stats, err = best
            if name == "pycocotools":
                reference = stats
            rows.append((name, seconds, peak, stats, err))
        table = Table(title=f"COCO bbox evaluation (whole process, best of {args.repeat})", show_edge=False)
        for col in ("tool", "wall s", "peak MB", "stats == pycocotools"):
            table.add_column(col, justify="left" if col == "tool" else "right")
        for name, seconds, peak, stats, err in rows:
            same = (
                "failed: " + err.strip().splitlines()[-1]
                if stats is None and err.strip()
                else (
                    "yes"
                    if stats == reference
                    else f"max diff {max(abs(a - b) for a, b in zip(stats, reference, strict=True)):.2e}"
                )
            )
            table.add_row(name, f"{seconds:.2f}", f"{peak:.0f}", same)
        console.print(table)
        if reference is not None:
            console.print("stats: " + ", ".join(f"{s:.6f}" for s in reference))


if __name__ == "__main__":
    main()
