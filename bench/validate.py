#!/usr/bin/env python
"""Benchmark ``dataprep validate``: whole-process wall time, peak memory, images/s.

Cases, each a fresh process (Python start-up included), best of ``--repeat``:

- labels only (``--no-images``) on a synthetic COCO set of ``--images`` images (~4 boxes each;
  target: 50,000 images / 200,000 boxes in under 2 s);
- labels only on a labels-only COCO file of ``--big-boxes`` boxes (target: 1,000,000 in under 10 s);
- image checks from headers (target: >= 2,000 images/s over the labels-only time) and with
  ``--decode`` (every pixel);
- Datumaro's detection validator on the same set, when ``datumaro`` is importable;
- in process: the vectorized checks against JSON Schema run one annotation object at a time
  (why per-annotation checks are not done with JSON Schema; STYLE 5.12).

Peak memory is the child's max RSS; "over base" subtracts an interpreter that has imported
dataprep's CLI, pandas and numpy (the part that scales with the data). Prints a rich table.

    python bench/validate.py                 # 50k images + 1M boxes
    python bench/validate.py --images 5000 --big-boxes 100000 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _convert_bench():  # the sibling script, for its COCO generator and process timer
    spec = importlib.util.spec_from_file_location("bench_convert", HERE / "convert.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["bench_convert"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


CONVERT = _convert_bench()


def make_images_distinct(root: Path) -> None:
    """Give every image of a generated set its own bytes (one pixel encodes its index).

    The convert generator writes one PNG per size, which validate rightly reports as 50k
    duplicates; a clean set needs distinct content to time the checks on a clean dataset.
    """
    from PIL import Image

    img_dir = root / "images" / "train"
    for path in sorted(img_dir.iterdir()):
        with Image.open(path) as im:
            im = im.convert("RGB")
        i = int(path.stem)
        im.putpixel((0, 0), (i & 255, (i >> 8) & 255, (i >> 16) & 255))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        path.write_bytes(buf.getvalue())


def labels_only_coco(path: Path, n_boxes: int, *, per_image: int = 4, seed: int = 0) -> int:
    """A COCO file of `n_boxes` boxes on ``n_boxes / per_image`` images (no image files)."""
    import orjson

    rng = np.random.default_rng(seed)
    n_images = n_boxes // per_image
    images = [{"id": i + 1, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(n_images)]
    x0 = rng.uniform(0, 400, n_boxes).round(2)
    y0 = rng.uniform(0, 300, n_boxes).round(2)
    w = rng.uniform(8, 200, n_boxes).round(2)
    h = rng.uniform(8, 150, n_boxes).round(2)
    cats = rng.integers(1, 81, n_boxes)
    annotations = [
        {
            "id": j + 1,
            "image_id": j // per_image + 1,
            "category_id": int(cats[j]),
            "bbox": [float(x0[j]), float(y0[j]), float(w[j]), float(h[j])],
            "area": float(round(w[j] * h[j], 4)),
            "iscrowd": 0,
        }
        for j in range(n_boxes)
    ]
    doc = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": f"class_{c:02d}"} for c in range(1, 81)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc))
    return n_boxes


def json_schema_vs_vectorized(coco_json: Path, sample: int) -> tuple[float, float, int]:
    """Seconds for JSON Schema on every annotation object (extrapolated from `sample`) and for
    dataprep's vectorized annotation checks, over the file's annotations."""
    import orjson
    from jsonschema import Draft202012Validator

    from dataprep import formats
    from dataprep.validation import CHECKS, CheckContext
    from dataprep.validation.schema import load_schema

    doc = orjson.loads(coco_json.read_bytes())
    anns = doc["annotations"]
    item_schema = load_schema("coco")["properties"]["annotations"]["items"]
    validator = Draft202012Validator(item_schema)
    part = anns[:sample]
    start = time.perf_counter()
    for obj in part:
        for _ in validator.iter_errors(obj):
            pass
    per_object = (time.perf_counter() - start) / max(len(part), 1)
    ds = formats.load(coco_json, "coco").dataset
    start = time.perf_counter()
    ctx = CheckContext(ds, format="coco", images=False)
    for rule in CHECKS.values():
        if rule.func is not None and not rule.needs_images:
            rule.func(ctx)
    vectorized = time.perf_counter() - start
    return per_object * len(anns), vectorized, len(anns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000, help="images in the synthetic set")
    parser.add_argument("--big-boxes", type=int, default=1_000_000, help="boxes in the labels-only set")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    parser.add_argument("--workdir", type=Path, default=Path(".bench") / "validate", help="scratch folder")
    parser.add_argument("--no-others", action="store_true", help="skip Datumaro")
    parser.add_argument("--others-python", default=sys.executable, help="interpreter that has Datumaro installed")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 130))
    data = args.workdir / f"coco_{args.images}"
    marker = data / ".complete"
    big = args.workdir / f"labels_{args.big_boxes}" / "instances.json"
    if args.generate_only:
        if not marker.exists():
            shutil.rmtree(data, ignore_errors=True)
            n_boxes = CONVERT.generate(data, args.images)
            make_images_distinct(data)
            marker.write_text(str(n_boxes))
        if not big.exists():
            labels_only_coco(big, args.big_boxes)
        return
    if not marker.exists() or not big.exists():
        # in a child: a forked child starts with its parent's peak RSS, which would then
        # show in every timed process's max RSS
        with console.status(f"generating {args.images:,} images and {args.big_boxes:,} boxes"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--generate-only"], check=True)
    n_boxes = int(marker.read_text())
    coco_json = data / "annotations" / "instances_train.json"
    console.print(f"data: {data} — {args.images:,} images, {n_boxes:,} boxes; {big} — {args.big_boxes:,} boxes")

    exe = [sys.executable, "-m", "dataprep", "validate"]
    _, base_mb, _, _ = CONVERT.run_process([sys.executable, "-c", "import dataprep.cli, numpy, pandas"])

    rows: list[dict] = []

    def measure(case: str, cmd: list[str], *, units: int, unit: str, json_file: Path | None, tool: str = "dataprep"):
        best = None
        for _ in range(args.repeat):
            seconds, peak, code, err = CONVERT.run_process(cmd)
            ok = code in (0, 1)  # 1 = findings at error severity, still a completed run
            if best is None or (ok and seconds < best[0]):
                best = (seconds, peak, ok, err.strip().splitlines()[-1] if not ok and err.strip() else "")
        seconds, peak, ok, error = best
        row = {
            "case": case,
            "tool": tool,
            "seconds": seconds,
            "peak": peak,
            "ok": ok,
            "error": error,
            "units": units,
            "unit": unit,
            "json_mb": json_file.stat().st_size / 2**20 if json_file else None,
        }
        rows.append(row)
        console.print(f"  {tool:9s} {case:34s} {seconds:6.2f} s {peak:7.0f} MB", "" if ok else f"FAILED {error}")
        return row

    labels = measure(
        f"labels only, {args.images:,} images",
        [*exe, str(data), "--no-images", "--json"],
        units=n_boxes,
        unit="boxes",
        json_file=coco_json,
    )
    measure(
        f"labels only, {args.big_boxes:,} boxes",
        [*exe, str(big), "--no-images", "--json"],
        units=args.big_boxes,
        unit="boxes",
        json_file=big,
    )
    headers = measure("image headers", [*exe, str(data), "--json"], units=args.images, unit="images", json_file=None)
    decode_cmd = [*exe, str(data), "--decode", "--json"]
    decode = measure("full decode", decode_cmd, units=args.images, unit="images", json_file=None)
    for row in (headers, decode):  # images/s over what the labels-only run already costs
        row["image_seconds"] = max(row["seconds"] - labels["seconds"], 1e-9)

    if not args.no_others and CONVERT._importable(args.others_python, "datumaro"):
        code = (
            "import datumaro as dm\n"
            "from datumaro.plugins.validators import DetectionValidator\n"
            f"ds = dm.Dataset.import_from({str(data)!r}, 'coco_instances')\n"
            "reports = DetectionValidator().validate(ds)\n"
            "print(len(reports.get('validation_reports', [])))\n"
        )
        measure(
            f"labels only, {args.images:,} images",
            [args.others_python, "-c", code],
            units=n_boxes,
            unit="boxes",
            json_file=coco_json,
            tool="datumaro",
        )
    else:
        console.print("  datumaro not importable: skipped (pass --others-python)")

    with console.status("JSON Schema per annotation vs vectorized checks"):
        schema_s, vector_s, n_anns = json_schema_vs_vectorized(coco_json, sample=20_000)

    table = Table(title=f"dataprep validate, best of {args.repeat} (whole process, {base_mb:.0f} MB interpreter base)")
    for col in ("case", "tool", "wall s", "rate", "peak MB", "over base MB", "JSON MB", "target"):
        table.add_column(col, justify="left" if col in ("case", "tool", "target") else "right")
    targets = {
        rows[0]["case"]: ("< 2 s", lambda r: r["seconds"] < 2),
        rows[1]["case"]: ("< 10 s", lambda r: r["seconds"] < 10),
        "image headers": (">= 2,000 images/s", lambda r: r["units"] / r["image_seconds"] >= 2000),
    }
    for r in rows:
        if "image_seconds" in r:
            rate = f"{r['units'] / r['image_seconds']:,.0f} {r['unit']}/s"
        else:
            rate = f"{r['units'] / r['seconds']:,.0f} {r['unit']}/s"
        target, passed = targets.get(r["case"], ("", None)) if r["tool"] == "dataprep" else ("", None)
        verdict = "" if passed is None else (" ok" if passed(r) else " MISSED")
        table.add_row(
            r["case"],
            r["tool"],
            f"{r['seconds']:.2f}" if r["ok"] else "failed",
            rate if r["ok"] else r["error"][:40],
            f"{r['peak']:.0f}",
            f"{max(r['peak'] - base_mb, 0):.0f}",
            f"{r['json_mb']:.1f}" if r["json_mb"] else "",
            target + verdict,
        )
    console.print(table)
    console.print(
        f"Per-annotation JSON Schema over {n_anns:,} annotations: {schema_s:.1f} s (extrapolated from 20,000); "
        f"dataprep's vectorized annotation checks: {vector_s:.2f} s ({schema_s / max(vector_s, 1e-9):,.0f}x faster)."
    )


if __name__ == "__main__":
    main()
