#!/usr/bin/env python
"""Benchmark augmentation: per-transform images/s, and one pipeline side by side with albumentations.

All in one process, on the same in-memory images and boxes (decoding and encoding are not
timed: that is the formats' cost, the same for every augmenter), best of ``--repeat``:

- per transform, applied with p=1: dataprep, and albumentations' equivalent when installed;
- a detection pipeline (hflip; scale + rotate + shear + translate; colour jitter; blur; noise)
  in both libraries, boxes carried along with a 0.3 visibility threshold;
- the whole ``dataprep.augment`` run on a COCO folder (decode, augment, encode, write), images/s.

OpenCV runs on one thread for both libraries: dataprep's opencv backend (the default) sets
``cv2.setNumThreads(0)`` on first use, and ``--cv2-threads`` (default 1) is applied after that,
to both. The albumentations column is left out when it is not installed (``pip install albumentations``).

    python bench/augment.py --images 100     # what the README reports: 640x480, 6 boxes each
    python bench/augment.py --images 50 --repeat 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dataprep.augmentation import PRESETS, Pipeline, Sample, load_pipeline
from dataprep.augmentation import functional as F
from dataprep.augmentation.transforms import TRANSFORMS

try:  # optional: only the comparison column needs it
    import albumentations as A
except ImportError:  # pragma: no cover - depends on the environment
    A = None

PIPELINE = {
    "min_visibility": 0.3,
    "transforms": [
        {"type": "hflip", "p": 0.5},
        {"type": "scale", "factor": [0.75, 1.25], "p": 1},
        {"type": "rotate", "degrees": 10, "p": 1},
        {"type": "shear", "x_degrees": 5, "p": 1},
        {"type": "translate", "fraction": 0.1, "p": 1},
        {"type": "color_jitter", "brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02, "p": 1},
        {"type": "blur", "sigma": [0.1, 1.5], "p": 0.5},
        {"type": "noise", "sigma": [5, 15], "p": 0.5},
    ],
}

# dataprep transform -> (its options, albumentations equivalent)
PER_TRANSFORM: dict[str, tuple[dict[str, Any], Callable[[], Any] | None]] = {
    "hflip": ({}, lambda: A.HorizontalFlip(p=1)),
    "vflip": ({}, lambda: A.VerticalFlip(p=1)),
    "scale": ({"factor": [0.75, 1.25]}, lambda: A.Affine(scale=(0.75, 1.25), p=1)),
    "translate": ({"fraction": 0.1}, lambda: A.Affine(translate_percent=(-0.1, 0.1), p=1)),
    "rotate": ({"degrees": 10}, lambda: A.Affine(rotate=(-10, 10), p=1)),
    "shear": ({"x_degrees": 10}, lambda: A.Affine(shear={"x": (-10, 10), "y": (0, 0)}, p=1)),
    "crop": ({"width": 320, "height": 320}, lambda: A.RandomCrop(320, 320, p=1)),
    "resized_crop": (
        {"width": 320, "height": 320, "scale": [0.25, 1.0]},
        lambda: A.RandomResizedCrop(size=(320, 320), scale=(0.25, 1.0), p=1),
    ),
    "color_jitter": (
        {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02},
        lambda: A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=1),
    ),
    "blur": ({"sigma": [0.1, 1.5]}, lambda: A.GaussianBlur(sigma_limit=(0.1, 1.5), blur_limit=0, p=1)),
    "noise": ({"sigma": [5, 15]}, lambda: A.GaussNoise(std_range=(5 / 255, 15 / 255), p=1)),
    "cutout": (
        {"holes": 1, "size": [0.1, 0.3]},
        lambda: A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.1, 0.3), p=1),
    ),
    "mosaic": ({}, None),
}


def make_data(n: int, width: int, height: int, boxes: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` photo-like images (smooth colour fields plus texture) with `boxes` random xyxy boxes each."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for _ in range(n):
        a = rng.uniform(0, 2 * np.pi, 3)
        base = np.stack([127 + 100 * np.sin(xs / (40 + 30 * k) + a[k] + ys / 90) for k in range(3)], axis=-1)
        img = np.clip(base + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
        wh = rng.uniform(20, 200, (boxes, 2))
        xy = rng.uniform(0, 1, (boxes, 2)) * ([width, height] - wh)
        out.append((img, np.concatenate([xy, xy + wh], axis=1)))
    return out


def _best(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()  # CPU time: the machine is shared, wall time is not ours alone
        fn()
        best = min(best, time.process_time() - t0)
    return best


def time_dataprep(pipe: Pipeline, data: list, repeat: int) -> float:
    """Images/s of `pipe` over `data`, each image with its own seeded generator."""
    partners = [Sample.from_arrays(img, b, None, np.arange(len(b))) for img, b in data[:3]]

    def go() -> None:
        for i, (img, b) in enumerate(data):
            pipe(img, b, None, np.arange(len(b)), rng=np.random.default_rng([0, i, 1]), partners=partners)

    return len(data) / _best(go, repeat)


def time_albumentations(transforms: list, data: list, repeat: int) -> float:
    """Images/s of an albumentations Compose with boxes (pascal_voc = absolute xyxy) over `data`."""
    compose = A.Compose(
        transforms,
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], min_visibility=0.3),
        seed=0,
    )
    h, w = data[0][0].shape[:2]
    prepared = [(img, np.clip(b, 0, [w, h, w, h]), np.arange(len(b))) for img, b in data]

    def go() -> None:
        for img, b, labels in prepared:
            compose(image=img, bboxes=b, labels=labels)

    return len(data) / _best(go, repeat)


def albumentations_pipeline(fused: bool = True) -> list:
    """The benchmark pipeline in albumentations: one Affine (its fastest form), or one transform per step."""
    if fused:
        geometry = [A.Affine(scale=(0.75, 1.25), rotate=(-10, 10), shear={"x": (-5, 5), "y": (0, 0)},
                             translate_percent=(-0.1, 0.1), p=1)]  # fmt: skip
    else:
        geometry = [
            A.Affine(scale=(0.75, 1.25), p=1),
            A.Affine(rotate=(-10, 10), p=1),
            A.Affine(shear={"x": (-5, 5), "y": (0, 0)}, p=1),
            A.Affine(translate_percent=(-0.1, 0.1), p=1),
        ]
    return [
        A.HorizontalFlip(p=0.5),
        *geometry,
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=1),
        A.GaussianBlur(sigma_limit=(0.1, 1.5), blur_limit=0, p=0.5),
        A.GaussNoise(std_range=(5 / 255, 15 / 255), p=0.5),
    ]


def time_offline(data: list, copies: int) -> tuple[float, int]:
    """Whole `dataprep.augment` run (read COCO, decode, augment, encode JPEG, write COCO): copies/s."""
    import dataprep
    from dataprep.dataset import Dataset

    with tempfile.TemporaryDirectory(
        prefix="dp-bench-augment-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None
    ) as tmp:
        root = Path(tmp) / "src"
        (root / "images").mkdir(parents=True)
        from PIL import Image

        rows, anns = [], []
        for i, (img, b) in enumerate(data, start=1):
            Image.fromarray(img).save(root / "images" / f"{i:06d}.jpg", quality=90)
            rows.append(
                {"image_id": i, "file_name": f"images/{i:06d}.jpg", "width": img.shape[1], "height": img.shape[0]}
            )
            for j, box in enumerate(b):
                anns.append({"annotation_id": len(anns) + 1, "image_id": i, "category_id": 1 + j % 3,
                             "x_min": box[0], "y_min": box[1], "x_max": box[2], "y_max": box[3]})  # fmt: skip
        import pandas as pd

        ds = Dataset.from_frames(
            pd.DataFrame(rows), pd.DataFrame(anns), {"category_id": [1, 2, 3], "name": ["a", "b", "c"]}, root=root
        )
        dataprep.write(ds, Path(tmp) / "coco", "coco")
        t0 = time.perf_counter()
        result = dataprep.augment(Path(tmp) / "coco", Path(tmp) / "out", pipeline=PIPELINE, copies=copies)
        seconds = time.perf_counter() - t0
    return result.copies_written / seconds, result.copies_written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--boxes", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cv2-threads", type=int, default=1, help="OpenCV threads, both libraries (0: dataprep's, sequential)"
    )
    parser.add_argument("--skip-offline", action="store_true")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    F.cv2_module()  # dataprep's one-time OpenCV setup first, so --cv2-threads is what both libraries get
    if args.cv2_threads:
        cv2.setNumThreads(args.cv2_threads)
    data = make_data(args.images, args.width, args.height, args.boxes)
    backends = ["opencv", "pillow"]  # the default first
    console = Console()
    title = f"{args.images} images {args.width}x{args.height}, {args.boxes} boxes each"
    unit = f"images/s on one core (CPU time), best of {args.repeat}"
    table = Table(title=f"Per transform (p=1): {title}; {unit}", title_justify="left")
    columns = ["transform", *(f"dataprep {b}" for b in backends), "albumentations" + ("" if A else " (absent)")]
    for col in [*columns, "best dataprep / albu"]:
        table.add_column(col, justify="left" if col == "transform" else "right")
    for name, (options, albu) in PER_TRANSFORM.items():
        ours = [
            time_dataprep(
                Pipeline([TRANSFORMS[name](p=1.0, **options)], min_visibility=0.3, backend=b), data, args.repeat
            )
            for b in backends
        ]
        theirs = time_albumentations([albu()], data, args.repeat) if A is not None and albu is not None else None
        ratio = "" if theirs is None else f"{max(ours) / theirs:.2f}x"
        table.add_row(name, *(f"{r:,.0f}" for r in ours), "" if theirs is None else f"{theirs:,.0f}", ratio)
    console.print(table)

    table = Table(title=f"Detection pipeline (bench PIPELINE): {title}; {unit}", title_justify="left")
    for col in ("library", "images/s", "ms / image"):
        table.add_column(col, justify="left" if col == "library" else "right")
    rows = []
    for b in backends:
        rate = time_dataprep(load_pipeline({**PIPELINE, "backend": b}), data, args.repeat)
        rows.append((f"dataprep, backend {b} (4 geometric steps, one resample)", rate))
    if A is not None:
        rows.append((f"albumentations {A.__version__}, one Affine for the 4 steps", time_albumentations(
            albumentations_pipeline(fused=True), data, args.repeat)))  # fmt: skip
        rows.append((f"albumentations {A.__version__}, one transform per step", time_albumentations(
            albumentations_pipeline(fused=False), data, args.repeat)))  # fmt: skip
    for preset in ("light", "detection", "classification"):
        for b in backends:
            rows.append((f"dataprep preset '{preset}', backend {b}", time_dataprep(
                load_pipeline({**PRESETS[preset], "backend": b}), data, args.repeat)))  # fmt: skip
    for label, rate in rows:
        table.add_row(label, f"{rate:,.0f}", f"{1000 / rate:.2f}")
    console.print(table)

    if not args.skip_offline:
        rate, n = time_offline(data, copies=2)
        console.print(f"dataprep.augment end to end (read COCO, decode, augment, encode JPEG, write COCO; wall time):"
                      f" {n} copies, {rate:,.0f} copies/s")  # fmt: skip


if __name__ == "__main__":
    main()
