#!/usr/bin/env python
"""Benchmark label conversion: wall time, peak memory and boxes/s, each case in its own process.

Generates a synthetic COCO detection set (``--images`` tiny image files, ~4 boxes each, 80
sparse category ids like COCO's), then times whole processes (Python start-up included):
read, COCO->YOLO, COCO->VOC, YOLO->COCO and VOC->COCO with dataprep, and the same conversions
with Datumaro, globox and supervision when they are importable. Prints a rich table.

    python bench/convert.py --images 50000
    python bench/convert.py --images 2000 --repeat 1   # quick look
    python bench/convert.py --images 10000 --annotation-tools --others-python /work/.benchvenv-issue12/bin/python \
        --baseline /tmp/before    # + the dataprep rows of an older tree (git archive REV dataprep | tar -x -C ...)
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES_WH = [(64, 48), (48, 64), (80, 60), (96, 72)]


def generate(root: Path, n_images: int, seed: int = 0) -> int:
    """Write ``root/annotations/instances_train.json`` and ``root/images/train/*.png``; return the box count."""
    import numpy as np
    import orjson
    from PIL import Image

    rng = np.random.default_rng(seed)
    img_dir = root / "images" / "train"
    img_dir.mkdir(parents=True, exist_ok=True)
    encoded = {}
    for w, h in SIZES_WH:
        buf = io.BytesIO()
        Image.new("RGB", (w, h), (90, 120, 150)).save(buf, format="PNG")
        encoded[(w, h)] = buf.getvalue()
    size_idx = rng.integers(0, len(SIZES_WH), n_images)
    counts = rng.integers(0, 9, n_images)  # mean 4 boxes per image
    cat_ids = np.sort(rng.choice(np.arange(1, 91), 80, replace=False))
    images, annotations = [], []
    ann_id = 1
    for i in range(n_images):
        w, h = SIZES_WH[size_idx[i]]
        name = f"{i:012d}.png"
        (img_dir / name).write_bytes(encoded[(w, h)])
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h, "license": 1})
        k = int(counts[i])
        x0 = rng.uniform(0, w * 0.7, k).round(2)
        y0 = rng.uniform(0, h * 0.7, k).round(2)
        bw = np.minimum(rng.uniform(2, w * 0.5, k), w - x0).round(2)
        bh = np.minimum(rng.uniform(2, h * 0.5, k), h - y0).round(2)
        cats = rng.choice(cat_ids, k)
        for j in range(k):
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": i + 1,
                    "category_id": int(cats[j]),
                    "bbox": [float(x0[j]), float(y0[j]), float(bw[j]), float(bh[j])],
                    "area": float(round(bw[j] * bh[j], 4)),
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
            ann_id += 1
    doc = {
        "info": {"description": "dataprep synthetic benchmark set", "version": "1.0"},
        "licenses": [{"id": 1, "name": "CC0"}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": int(c), "name": f"class_{c:02d}", "supercategory": "thing"} for c in cat_ids],
    }
    (root / "annotations").mkdir(exist_ok=True)
    (root / "annotations" / "instances_train.json").write_bytes(orjson.dumps(doc))
    return len(annotations)


@dataclass
class Run:
    case: str
    tool: str
    seconds: float
    peak_mb: float
    ok: bool
    error: str = ""


def run_process(args: list[str], cwd: Path | None = None) -> tuple[float, float, int, str]:
    """Run a command (in `cwd`); return (wall seconds, peak RSS MB of that child, exit status, stderr tail).

    Linux counts the parent's resident size at spawn into the child's peak, so this process
    keeps itself small (~30 MB: no numpy, data generated in a child).
    """
    # every tool starts as an installed package does, from its bytecode cache: with
    # PYTHONDONTWRITEBYTECODE=1 (set in some sandboxes) dataprep, run from its source tree, would
    # compile its ~100 modules at every start (~0.2 s) while the other tools' site-packages ship .pyc
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env)
    stderr = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / 1024, proc.returncode, stderr.decode(errors="replace")[-400:]


def dataprep_cases(data: Path, work: Path) -> list[tuple[str, list[str], Path | None]]:
    exe = [sys.executable, "-m", "dataprep"]
    py = sys.executable
    coco_json = data / "annotations" / "instances_train.json"
    return [
        ("read COCO", [py, "-c", f"import dataprep; dataprep.read({str(coco_json)!r})"], None),
        (
            "COCO->YOLO",
            [*exe, "convert", str(data), str(work / "yolo"), "--to", "yolo", "--images", "none"],
            work / "yolo",
        ),
        ("COCO->VOC", [*exe, "convert", str(data), str(work / "voc"), "--to", "voc", "--images", "none"], work / "voc"),
        # YOLO needs the images for their sizes: give it a hard-linked copy of the set.
        (
            "YOLO->COCO",
            [*exe, "convert", str(work / "yolo_src"), str(work / "coco_y"), "--to", "coco", "--images", "none"],
            work / "coco_y",
        ),
        (
            "VOC->COCO",
            [*exe, "convert", str(work / "voc"), str(work / "coco_v"), "--to", "coco", "--images", "none"],
            work / "coco_v",
        ),
    ]


def _importable(python: str, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def other_tools(data: Path, work: Path, python: str) -> list[tuple[str, str, list[str], Path]]:
    """(case, tool, command, output) for the competitors importable by `python`."""
    py = python
    coco_json = data / "annotations" / "instances_train.json"
    img_dir = data / "images" / "train"
    cases = []
    if _importable(py, "datumaro"):
        for case, fmt in (("COCO->YOLO", "yolo"), ("COCO->VOC", "voc_detection")):
            out = work / f"datum_{fmt}"
            code = (
                "import datumaro as dm; "
                f"ds = dm.Dataset.import_from({str(data)!r}, 'coco_instances'); "
                f"ds.export({str(out)!r}, {fmt!r}, save_media=False)"
            )
            cases.append((case, "datumaro", [py, "-c", code], out))
    if _importable(py, "globox"):
        out = work / "globox_yolo"
        code = (
            "from globox import AnnotationSet; "
            f"a = AnnotationSet.from_coco({str(coco_json)!r}); "
            "ids = {l: i for i, l in enumerate(sorted(a._labels()))}; "
            f"a.save_yolo_darknet({str(out)!r}, label_to_id=ids)"
        )
        cases.append(("COCO->YOLO", "globox", [py, "-c", code], out))
    if _importable(py, "supervision"):
        out = work / "sv_yolo"
        code = (
            "import supervision as sv; "
            f"ds = sv.DetectionDataset.from_coco({str(img_dir)!r}, {str(coco_json)!r}); "
            f"ds.as_yolo(annotations_directory_path={str(out)!r})"
        )
        cases.append(("COCO->YOLO", "supervision", [py, "-c", code], out))
    return cases


def generate_tool_inputs(data: Path, dest: Path) -> None:
    """Annotation-tool inputs from the synthetic COCO set (issue 12), written under `dest`.

    ``labelme/``: one LabelMe json per image beside a hard link to it, objects alternating
    rectangle / hexagon polygon; ``cvat/`` and ``label_studio/``: the COCO set converted by
    dataprep (``annotations.xml``; ``tasks.json`` + ``label_config.xml``).
    """
    import numpy as np
    import orjson

    doc = orjson.loads((data / "annotations" / "instances_train.json").read_bytes())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    by_image: dict[int, list] = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    folder = dest / "labelme"
    folder.mkdir(parents=True)
    angles = np.arange(6) * np.pi / 3
    for image in doc["images"]:
        shapes = []
        for k, a in enumerate(by_image.get(image["id"], [])):
            x, y, w, h = a["bbox"]
            if k % 2:
                pts = np.stack([x + w / 2 + w / 2 * np.cos(angles), y + h / 2 + h / 2 * np.sin(angles)], axis=1)
                points, kind = pts.round(2).tolist(), "polygon"
            else:
                points, kind = [[x, y], [x + w, y + h]], "rectangle"
            shapes.append(
                {
                    "label": names[a["category_id"]],
                    "points": points,
                    "group_id": None,
                    "description": "",
                    "shape_type": kind,
                    "flags": {},
                    "mask": None,
                }
            )
        stem = image["file_name"].rsplit(".", 1)[0]
        labelme_doc = {
            "version": "5.5.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": image["file_name"],
            "imageData": None,
            "imageHeight": image["height"],
            "imageWidth": image["width"],
        }
        (folder / f"{stem}.json").write_bytes(orjson.dumps(labelme_doc))
        os.link(data / "images" / "train" / image["file_name"], folder / image["file_name"])
    for fmt, sub in (("cvat", "cvat"), ("label-studio", "label_studio")):
        # Datumaro's cvat importer refuses an export without its images: link them
        mode = "link" if fmt == "cvat" else "none"
        cmd = [sys.executable, "-m", "dataprep", "convert", str(data), str(dest / sub), "--to", fmt, "--images", mode]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def ensure_coco(workdir: Path, n_images: int, console: Any) -> Path:
    """``WORKDIR/coco_N``, generated once (in a child: a child's peak RSS includes its parent's at spawn)."""
    data = workdir / f"coco_{n_images}"
    if not (data / ".complete").exists():
        shutil.rmtree(data, ignore_errors=True)
        with console.status(f"generating {n_images:,} images"):
            cmd = [sys.executable, __file__, "--images", str(n_images), "--generate-only", str(data)]
            subprocess.run(cmd, check=True)
    return data


def ensure_tool_inputs(workdir: Path, n_images: int, console: Any) -> Path:
    """``WORKDIR/tools_N``: the LabelMe/CVAT/Label Studio inputs made from ``coco_N`` (`generate_tool_inputs`)."""
    data = ensure_coco(workdir, n_images, console)
    tools = workdir / f"tools_{n_images}"
    if not (tools / ".complete").exists():
        shutil.rmtree(tools, ignore_errors=True)
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import convert; convert.generate_tool_inputs("
        code += f"__import__('pathlib').Path({str(data)!r}), __import__('pathlib').Path({str(tools)!r}))"
        subprocess.run([sys.executable, "-c", code], check=True)
        (tools / ".complete").write_text("ok")
    return tools


def tool_cases(tools: Path, work: Path, python: str, others: bool) -> list[tuple[str, str, list[str], Path]]:
    """(case, tool, command, output): LabelMe/CVAT/Label Studio -> COCO/YOLO, dataprep and the tools' converters."""
    exe = [sys.executable, "-m", "dataprep", "convert"]  # with --from: the tools are told their format too
    labelme, cvat, studio = tools / "labelme", tools / "cvat", tools / "label_studio"
    cases = [
        (
            "LabelMe->COCO",
            "dataprep",
            [*exe, str(labelme), str(work / "lm_coco"), "--from", "labelme", "--to", "coco", "--images", "none"],
            work / "lm_coco",
        ),
        # labelme2yolo always copies the images: so does dataprep here
        (
            "LabelMe->YOLO",
            "dataprep",
            [*exe, str(labelme), str(work / "lm_yolo"), "--from", "labelme", "--to", "yolo", "--images", "copy"],
            work / "lm_yolo",
        ),
        (
            "CVAT->COCO",
            "dataprep",
            [*exe, str(cvat), str(work / "cvat_coco"), "--from", "cvat", "--to", "coco", "--images", "none"],
            work / "cvat_coco",
        ),
        (
            "LabelStudio->COCO",
            "dataprep",
            [
                *exe,
                str(studio / "tasks.json"),
                str(work / "ls_coco"),
                "--from",
                "label-studio",
                "--to",
                "coco",
                "--images",
                "none",
            ],
            work / "ls_coco",
        ),
    ]
    if not others:
        return cases
    if _importable(python, "labelme2coco"):
        out = work / "labelme2coco"
        code = f"import labelme2coco; labelme2coco.convert({str(labelme)!r}, {str(out)!r}, train_split_rate=1)"
        cases.append(("LabelMe->COCO", "labelme2coco", [python, "-c", code], out))
    labelme2yolo = Path(python).parent / "labelme2yolo"
    if labelme2yolo.exists():
        out = work / "labelme2yolo"
        cmd = [str(labelme2yolo), "--json_dir", str(labelme), "--output_dir", str(out), "--val_size", "0"]
        cases.append(("LabelMe->YOLO", "labelme2yolo", cmd, out))
    if _importable(python, "datumaro"):
        out = work / "datum_cvat_coco"
        code = (
            "import datumaro as dm; "
            f"ds = dm.Dataset.import_from({str(cvat)!r}, 'cvat'); "
            f"ds.export({str(out)!r}, 'coco_instances', save_media=False)"
        )
        cases.append(("CVAT->COCO", "datumaro", [python, "-c", code], out))
    if _importable(python, "label_studio_converter"):
        out = work / "lsc_coco"
        code = (
            "from label_studio_converter import Converter; "
            f"c = Converter(open({str(studio / 'label_config.xml')!r}).read(), {str(studio)!r}, "
            "download_resources=False); "
            f"c.convert_to_coco({str(studio / 'tasks.json')!r}, {str(out)!r}, is_dir=False)"
        )
        cases.append(("LabelStudio->COCO", "label-studio-converter", [python, "-c", code], out))
    return cases


STARTUP_IMAGES = 3
STARTUP = " (start-up)"


def tools_table(runs: list[Run], n_images: int, n_boxes: int, repeat: int) -> Any:
    """Annotation-tool rows: whole process, start-up (3 images), and the rest, each against dataprep's."""
    from rich.table import Table

    startup = {(r.case.removesuffix(STARTUP), r.tool): r.seconds for r in runs if r.case.endswith(STARTUP) and r.ok}
    rows = [r for r in runs if not r.case.endswith(STARTUP)]
    ours = {r.case: r for r in rows if r.tool == "dataprep" and r.ok}
    table = Table(
        title=f"Annotation-tool conversions, {n_images:,} images / {n_boxes:,} boxes, best of {repeat} "
        f"(whole process; start-up = the same command on {STARTUP_IMAGES} images)"
    )
    for col in ("case", "tool", "wall s", "start-up s", "rest s", "peak MB", "x dataprep", "rest x dataprep"):
        table.add_column(col, justify="left" if col in ("case", "tool") else "right")
    for r in rows:
        first = startup.get((r.case, r.tool))
        rest = r.seconds - first if first is not None else None
        mine = ours.get(r.case)
        mine_rest = mine.seconds - startup[(r.case, "dataprep")] if mine and (r.case, "dataprep") in startup else None
        ratio = f"{r.seconds / mine.seconds:.1f}x" if r.ok and mine and r.tool != "dataprep" else ""
        rest_ratio = f"{rest / mine_rest:.1f}x" if r.ok and rest and mine_rest and r.tool != "dataprep" else ""
        table.add_row(
            r.case,
            r.tool,
            f"{r.seconds:.2f}" if r.ok else "failed",
            f"{first:.2f}" if first is not None else "",
            f"{rest:.2f}" if rest is not None and r.ok else "",
            f"{r.peak_mb:.0f}",
            ratio,
            rest_ratio,
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000, help="images in the synthetic set")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    parser.add_argument("--workdir", type=Path, default=Path(".bench") / "convert", help="scratch folder")
    parser.add_argument("--no-others", action="store_true", help="skip Datumaro/globox/supervision")
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="where outputs go (default: WORKDIR/out); a tmpfs such as /dev/shm takes the disk out of the figures",
    )
    parser.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--annotation-tools",
        action="store_true",
        help="only the LabelMe/CVAT/Label Studio rows (issue 12), against labelme2coco, labelme2yolo, "
        "Datumaro's cvat importer and label-studio-converter",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a dataprep source tree (holding dataprep/) whose annotation-tool rows run beside this one's, "
        "in the same run: before/after under the same load",
    )
    parser.add_argument(
        "--others-python",
        default=sys.executable,
        help="interpreter that has Datumaro/globox/supervision installed (e.g. a separate venv)",
    )
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()  # absolute: baseline rows run in another folder
    args.out_dir = args.out_dir.resolve() if args.out_dir else None
    if args.generate_only:
        n_boxes = generate(args.generate_only, args.images)
        (args.generate_only / ".complete").write_text(str(n_boxes))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(shutil.get_terminal_size().columns, 150))  # tables unwrapped in a pipe too
    data = ensure_coco(args.workdir, args.images, console)
    marker = data / ".complete"
    n_boxes = int(marker.read_text())
    console.print(f"data: {data} — {args.images:,} images, {n_boxes:,} boxes")
    work = args.out_dir or args.workdir / "out"

    runs: list[Run] = []

    def measure(case: str, tool: str, cmd: list[str], out: Path | None, cwd: Path | None = None) -> None:
        best: Run | None = None
        for _ in range(args.repeat):
            if out is not None:
                shutil.rmtree(out, ignore_errors=True)
            seconds, peak, code, err = run_process(cmd, cwd)
            run = Run(
                case, tool, seconds, peak, code == 0, err.strip().splitlines()[-1] if code and err.strip() else ""
            )
            if best is None or (run.ok and run.seconds < best.seconds):
                best = run
        assert best is not None
        runs.append(best)
        console.print(
            f"  {tool:12s} {case:12s} {best.seconds:6.2f} s {best.peak_mb:7.0f} MB",
            "" if best.ok else f"FAILED {best.error}",
        )

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.annotation_tools:
        # every case twice: on N images, and on 3 images for the tool's start-up (imports, set-up)
        big = ensure_tool_inputs(args.workdir, args.images, console)
        small = ensure_tool_inputs(args.workdir, STARTUP_IMAGES, console)
        for case, tool, cmd, out in tool_cases(big, work, args.others_python, not args.no_others):
            measure(case, tool, cmd, out)
            if args.baseline and tool == "dataprep":
                # `python -m` puts the working folder first on sys.path: run in the baseline tree
                base_out = out.with_name(out.name + "_baseline")
                base_cmd = [str(base_out) if c == str(out) else c for c in cmd]
                measure(case, "dataprep@baseline", base_cmd, base_out, cwd=args.baseline.resolve())
        for case, tool, cmd, out in tool_cases(small, work / "startup", args.others_python, not args.no_others):
            measure(case + STARTUP, tool, cmd, out)
        console.print(tools_table(runs, args.images, n_boxes, args.repeat))
        return
    for case, cmd, out in dataprep_cases(data, work):
        if case == "YOLO->COCO":
            # a YOLO copy of the set with hard-linked images (what a real YOLO dataset looks like)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dataprep",
                    "convert",
                    str(data),
                    str(work / "yolo_src"),
                    "--to",
                    "yolo",
                    "--images",
                    "link",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        measure(case, "dataprep", cmd, out)
    if not args.no_others:
        for case, tool, cmd, out in other_tools(data, work, args.others_python):
            measure(case, tool, cmd, out)

    base = {r.case: r.seconds for r in runs if r.tool == "dataprep" and r.ok}
    table = Table(
        title=f"Conversion, {args.images:,} images / {n_boxes:,} boxes, best of {args.repeat} (whole process)"
    )
    for col in ("case", "tool", "wall s", "peak MB", "boxes/s", "x dataprep"):
        table.add_column(col, justify="left" if col in ("case", "tool") else "right")
    for r in runs:
        ratio = f"{r.seconds / base[r.case]:.1f}x" if r.ok and r.case in base and r.tool != "dataprep" else ""
        table.add_row(
            r.case,
            r.tool,
            f"{r.seconds:.2f}" if r.ok else "failed",
            f"{r.peak_mb:.0f}",
            f"{n_boxes / r.seconds:,.0f}" if r.ok else "",
            ratio,
        )
    console.print(table)


if __name__ == "__main__":
    main()
