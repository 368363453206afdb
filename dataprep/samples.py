"""Deterministic generators for the bundled ``samples/`` datasets.

The samples are built from real handwritten digits: scikit-learn's ``load_digits`` (1,797
8x8 scans from UCI, bundled with scikit-learn, no download). scikit-learn is needed only to
regenerate them (``pip install -e .[samples]``); the generated files are committed.

- `make_detection_dataset`: small RGB scenes with digits pasted at several sizes, including
  the cases converters get wrong: tiny objects, overlapping objects, objects touching or cut by
  the border, images with no object, and polygon outlines on most objects.
- `make_classification_dataset`: one 32x32 grayscale image per digit scan, 10 classes.
- `regenerate`: writes both through the public `dataprep.formats.write` as COCO, VOC, YOLO,
  class folders and csv, plus a README.

Every image is drawn from its own generator ``np.random.default_rng([seed, kind, index])``,
so an image does not change when the number of images does, and PNG output makes the bytes
identical run to run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import OutputError, UsageError
from dataprep.formats.base import WriteReport

DETECTION_CLASSES = ("zero", "one", "two", "three", "four")
CLASSIFICATION_CLASSES = tuple(str(d) for d in range(10))
DETECTION_WIDTH, DETECTION_HEIGHT = 128, 96
CLASSIFICATION_SIZE = 32
SPLIT_RATIOS = (0.7, 0.2, 0.1)
README_MARKER = "# dataprep samples"

_KIND_DETECTION, _KIND_CLASSIFICATION, _KIND_SPLIT = 1, 2, 3
_INK_THRESHOLD = 96  # alpha (0..255) above which a pixel counts as part of the digit


class MissingExtraError(UsageError, ImportError):
    """An optional dependency (a ``pip install dataprep[extra]``) is not installed."""


def _load_digits() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """``(N, 8, 8)`` uint8 digit scans scaled to 0..255 and their ``(N,)`` labels 0..9.

    Raises:
        MissingExtraError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingExtraError(
            "the sample generators need scikit-learn (its bundled load_digits scans). "
            "Install it with `pip install -e .[samples]` (or `pip install scikit-learn`)"
        ) from None
    digits = load_digits()
    images = np.clip(np.asarray(digits.images, dtype=np.float64) * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    return images, np.asarray(digits.target, dtype=np.int64)


def _split_names(n: int, seed: int) -> list[str]:
    """``n`` split names in ~70/20/10 proportions, in a seeded random order."""
    n_val = round(n * SPLIT_RATIOS[1])
    n_test = round(n * SPLIT_RATIOS[2])
    names = ["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test
    order = np.random.default_rng([seed, _KIND_SPLIT, n]).permutation(n)
    return [names[k] for k in order]


def _resize(scan: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    from PIL import Image

    return np.asarray(Image.fromarray(scan).resize((width, height), Image.Resampling.BILINEAR))


def _background(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float64]:
    """``(H, W, 3)`` float64 smooth two-colour gradient with mild noise (a plain scene)."""
    c0, c1 = rng.uniform(30, 200, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height + 1.0) / 2.0
    image = c0 + (c1 - c0) * t[..., None]
    return image + rng.normal(0.0, 4.0, size=image.shape)


def _outline(mask: npt.NDArray[np.bool_], x0: int, y0: int) -> npt.NDArray[np.float64]:
    """``(K, 2)`` float64 convex outline (x, y) of the mask's pixel squares, offset by (x0, y0)."""
    from shapely.geometry import MultiPoint

    rows, cols = np.nonzero(mask)
    corners = np.concatenate(
        [np.stack([cols + dx, rows + dy], axis=1) for dx in (0, 1) for dy in (0, 1)], axis=0
    ).astype(np.float64)
    hull = MultiPoint(corners).convex_hull
    coords = np.asarray(hull.exterior.coords, dtype=np.float64)[:-1]  # drop the closing repeat
    return coords + np.array([x0, y0], dtype=np.float64)


def _place(
    rng: np.random.Generator, size: int, width: int, height: int, case: str, anchor: tuple[int, int, int] | None
) -> tuple[int, int]:
    """Top-left corner of a ``size``-pixel digit for a layout case."""
    if case == "overlap" and anchor is not None:
        ax, ay, asize = anchor
        dx, dy = (rng.uniform(0.3, 0.6, size=2) * asize * rng.choice([-1, 1], size=2)).astype(int)
        x, y = ax + int(dx), ay + int(dy)
        return int(np.clip(x, 0, width - size)), int(np.clip(y, 0, height - size))
    if case == "clipped":  # a third to a half of the digit outside the image
        side = int(rng.integers(4))
        out = int(size * rng.uniform(0.3, 0.5))
        x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
        return [(-out, y), (width - size + out, y), (x, -out), (x, height - size + out)][side]
    if case == "touching":  # flush with an edge
        side = int(rng.integers(4))
        x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
        return [(0, y), (width - size, y), (x, 0), (x, height - size)][side]
    return int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))


def _scene_cases(index: int) -> list[str]:
    """Layout cases for image `index`: every tenth image is empty; hard cases rotate."""
    if index % 10 == 9:
        return []
    hard = [["tiny", "normal"], ["normal", "overlap"], ["clipped", "normal"], ["touching", "tiny", "normal"]]
    extra = ["normal"] * (index % 3)
    return hard[index % 4] + extra


def make_detection_dataset(root: str | Path, *, seed: int = 0, n_images: int = 50) -> Dataset:
    """Generate digit scenes as PNG files under `root` and return their Dataset.

    Images are ``128 x 96`` RGB; categories ``zero``..``four`` (ids 1..5). Boxes are the
    visible ink's pixel bounds in absolute continuous xyxy coordinates (an object cut by the
    border is clipped to the image); about 60% of objects also carry their convex outline
    polygon. Splits are ~70/20/10 train/val/test.

    Raises:
        MissingExtraError: scikit-learn is not installed.
    """
    from PIL import Image

    scans, targets = _load_digits()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    by_class = [np.flatnonzero(targets == d) for d in range(len(DETECTION_CLASSES))]
    width, height = DETECTION_WIDTH, DETECTION_HEIGHT
    rows: list[dict[str, Any]] = []
    file_names: list[str] = []
    for index in range(n_images):
        rng = np.random.default_rng([seed, _KIND_DETECTION, index])
        canvas = _background(rng, width, height)
        anchor: tuple[int, int, int] | None = None
        for case in _scene_cases(index):
            digit = int(rng.integers(len(DETECTION_CLASSES)))
            scan = scans[rng.choice(by_class[digit])]
            size = int(rng.integers(5, 9)) if case == "tiny" else int(rng.integers(16, 42))
            alpha = _resize(scan, size, size)
            x0, y0 = _place(rng, size, width, height, case, anchor)
            anchor = (x0, y0, size)
            # visible part of the digit square on the canvas
            cx0, cy0 = max(x0, 0), max(y0, 0)
            cx1, cy1 = min(x0 + size, width), min(y0 + size, height)
            a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(np.float64)[..., None] / 255.0
            # ink contrasting with the background under it, so every digit is legible
            dark = canvas[cy0:cy1, cx0:cx1].mean() > 120
            ink = rng.uniform(0, 70, size=3) if dark else rng.uniform(185, 255, size=3)
            canvas[cy0:cy1, cx0:cx1] = canvas[cy0:cy1, cx0:cx1] * (1 - a) + ink * a
            mask = a[..., 0] * 255.0 > _INK_THRESHOLD
            if not mask.any():
                continue
            r, c = np.nonzero(mask)
            x_min, x_max = cx0 + int(c.min()), cx0 + int(c.max()) + 1
            y_min, y_max = cy0 + int(r.min()), cy0 + int(r.max()) + 1
            polygon = [_outline(mask, cx0, cy0)] if rng.random() < 0.6 else None
            rows.append(
                {
                    "image_id": index + 1,
                    "category_id": digit + 1,
                    "x_min": float(x_min),
                    "y_min": float(y_min),
                    "x_max": float(x_max),
                    "y_max": float(y_max),
                    "segmentation": polygon,
                }
            )
        file_name = f"scene_{index + 1:03d}.png"
        pixels = np.clip(canvas, 0, 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(root / file_name, optimize=False)
        file_names.append(file_name)
    images = pd.DataFrame(
        {
            "image_id": np.arange(1, n_images + 1, dtype=np.int64),
            "file_name": file_names,
            "width": width,
            "height": height,
            "split": _split_names(n_images, seed),
        }
    )
    annotations = pd.DataFrame(
        rows, columns=["image_id", "category_id", "x_min", "y_min", "x_max", "y_max", "segmentation"]
    )
    annotations.insert(0, "annotation_id", np.arange(1, len(annotations) + 1, dtype=np.int64))
    categories = pd.DataFrame(
        {"category_id": np.arange(1, len(DETECTION_CLASSES) + 1, dtype=np.int64), "name": list(DETECTION_CLASSES)}
    )
    return Dataset.from_frames(images, annotations, categories, root=root)


def make_classification_dataset(root: str | Path, *, seed: int = 0, n_per_class: int = 30) -> Dataset:
    """Write ``10 * n_per_class`` 32x32 grayscale digit PNGs under `root`; return their Dataset.

    Categories ``"0"``..``"9"`` (ids 1..10, so sorted names, ids and digits agree); one
    image-level label (NaN box) per image; splits ~70/20/10 within each class.

    Raises:
        MissingExtraError: scikit-learn is not installed.
    """
    from PIL import Image

    scans, targets = _load_digits()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    file_names: list[str] = []
    labels: list[int] = []
    splits: list[str] = []
    for digit in range(len(CLASSIFICATION_CLASSES)):
        rng = np.random.default_rng([seed, _KIND_CLASSIFICATION, digit])
        chosen = rng.choice(np.flatnonzero(targets == digit), size=n_per_class, replace=False)
        class_splits = _split_names(n_per_class, seed + digit)
        for k, scan_index in enumerate(chosen):
            file_name = f"digit_{digit * n_per_class + k + 1:04d}.png"
            pixels = _resize(scans[scan_index], CLASSIFICATION_SIZE, CLASSIFICATION_SIZE)
            Image.fromarray(pixels).save(root / file_name, optimize=False)
            file_names.append(file_name)
            labels.append(digit + 1)
            splits.append(class_splits[k])
    n = len(file_names)
    ids = np.arange(1, n + 1, dtype=np.int64)
    images = pd.DataFrame(
        {
            "image_id": ids,
            "file_name": file_names,
            "width": CLASSIFICATION_SIZE,
            "height": CLASSIFICATION_SIZE,
            "split": splits,
        }
    )
    annotations = pd.DataFrame(
        {"annotation_id": ids, "image_id": ids, "category_id": np.asarray(labels, dtype=np.int64)}
    )
    categories = pd.DataFrame(
        {
            "category_id": np.arange(1, len(CLASSIFICATION_CLASSES) + 1, dtype=np.int64),
            "name": list(CLASSIFICATION_CLASSES),
        }
    )
    return Dataset.from_frames(images, annotations, categories, root=root)


def _counts(ds: Dataset) -> str:
    per_split = ds.images["split"].value_counts()
    splits = ", ".join(f"{s} {int(per_split.get(s, 0))}" for s in ds.splits)
    return f"{len(ds.images)} images ({splits}), {len(ds.annotations)} labels, {len(ds.categories)} classes"


def _readme(det: Dataset, cls: Dataset, reports: dict[str, WriteReport], seed: int) -> str:
    anns = det.annotations
    widths = anns["x_max"] - anns["x_min"]
    heights = anns["y_max"] - anns["y_min"]
    tiny = int(((widths < 8) | (heights < 8)).sum())
    at_border = int(
        (
            (anns["x_min"] <= 0)
            | (anns["y_min"] <= 0)
            | (anns["x_max"] >= DETECTION_WIDTH)
            | (anns["y_max"] >= DETECTION_HEIGHT)
        ).sum()
    )
    empty = int((~det.images.index.isin(anns["image_id"])).sum())
    overlapping = 0
    for _, group in anns.groupby("image_id"):
        xyxy = group[["x_min", "y_min", "x_max", "y_max"]].to_numpy()
        iw = np.minimum(xyxy[:, None, 2], xyxy[None, :, 2]) - np.maximum(xyxy[:, None, 0], xyxy[None, :, 0])
        ih = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3]) - np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
        overlapping += int(np.triu((iw > 0) & (ih > 0), 1).sum())
    polygons = int(anns["segmentation"].notna().sum())
    lines = [
        README_MARKER,
        "",
        "Small datasets in every format dataprep reads and writes, made from real handwritten digits",
        "(scikit-learn's bundled `load_digits`: 1,797 8x8 scans from the UCI optical digits set).",
        f"Generated by `dataprep samples regenerate` (`dataprep.samples.regenerate`, seed {seed});",
        "do not edit by hand. Regenerating needs scikit-learn: `pip install -e .[samples]`.",
        "",
        "## detection/",
        "",
        f"{DETECTION_WIDTH}x{DETECTION_HEIGHT} RGB PNG scenes with digits pasted on a gradient background,",
        f"classes {', '.join(DETECTION_CLASSES)} (category ids 1..{len(DETECTION_CLASSES)}):",
        f"{_counts(det)}.",
        "Boxes are the visible ink's pixel bounds (xyxy, continuous pixel coordinates). Hard cases",
        f"on purpose: {tiny} tiny objects (under 8 px on a side), {overlapping} overlapping pairs,",
        f"{at_border} objects touching or cut by the image border (boxes clipped to the image),",
        f"{empty} images without objects, and {polygons} objects with a polygon outline (the digit's",
        "convex hull; VOC and YOLO detection keep their boxes only, as their reports say below).",
        "",
        "| folder | layout | format name (`dataprep.write`, `--to`) |",
        "|---|---|---|",
        "| `detection/coco/` | COCO instances json, one file per split | `coco` |",
        "| `detection/voc/` | Pascal VOC xml + `ImageSets/Main/<split>.txt` | `voc` |",
        "| `detection/yolo/` | YOLO txt + `data.yaml` (Ultralytics layout) | `yolo` |",
        "",
        "## classification/",
        "",
        f"{CLASSIFICATION_SIZE}x{CLASSIFICATION_SIZE} grayscale PNG digits upscaled from the 8x8 scans, one per scan,",
        f"classes {', '.join(CLASSIFICATION_CLASSES)} (category ids 1..10, so class index = digit):",
        f"{_counts(cls)}, split ~70/20/10 within each class.",
        "",
        "| folder | layout | format name (`dataprep.write`, `--to`) |",
        "|---|---|---|",
        "| `classification/folders/` | `<split>/<class>/<image>` (ImageFolder) | `folders` |",
        "| `classification/csv/` | `labels.csv` (`file_name,label,split`) + `images/` | `csv` |",
        "",
        "## What each writer reported",
        "",
    ]
    for name, report in reports.items():
        if report.lossless:
            lines.append(f"- `{name}`: lossless")
        else:
            detail = "; ".join(f"{loss.code} x{loss.count}" for loss in report.losses)
            lines.append(f"- `{name}`: {detail}")
    lines.append("")
    return "\n".join(lines)


def _check_replaceable(out: Path, overwrite: bool) -> None:
    """Refuse to replace a folder that is not a samples tree unless `overwrite` says so."""
    if not out.exists() or overwrite:
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder. Choose another --out.")
    readme = out / "README.md"
    is_samples = readme.is_file() and readme.read_text(encoding="utf-8", errors="replace").startswith(README_MARKER)
    if not is_samples and any(out.iterdir()):
        raise OutputError(
            f"{out}: exists and is not a dataprep samples folder (no README.md starting with {README_MARKER!r}). "
            "Choose another --out or pass --overwrite."
        )


def regenerate(
    out_dir: str | Path = "samples",
    *,
    seed: int = 0,
    overwrite: bool = False,
    n_images: int = 50,
    n_per_class: int = 30,
) -> dict[str, WriteReport]:
    """Generate the samples and write them to `out_dir` through `dataprep.formats.write`.

    Writes ``detection/{coco,voc,yolo}/`` and ``classification/{folders,csv}/`` (images
    copied) plus ``README.md``. `out_dir` is replaced as a whole and atomically; an existing
    folder is replaced only if it is a samples folder (or empty), or with ``overwrite=True``.

    Returns:
        The write report of each sub-folder, keyed by its path relative to `out_dir`.

    Raises:
        MissingExtraError: scikit-learn is not installed.
        OutputError: `out_dir` exists and is not a samples folder.
    """
    from dataprep.files import atomic_output_dir
    from dataprep.formats import write

    out = Path(out_dir)
    _check_replaceable(out, overwrite)
    _load_digits()  # fail before touching anything when scikit-learn is missing
    reports: dict[str, WriteReport] = {}
    raw = Path(tempfile.mkdtemp(prefix=".samples-raw-"))
    try:
        det = make_detection_dataset(raw / "detection", seed=seed, n_images=n_images)
        cls = make_classification_dataset(raw / "classification", seed=seed, n_per_class=n_per_class)
        with atomic_output_dir(out, overwrite=True) as tmp:
            for fmt in ("coco", "voc", "yolo"):
                reports[f"detection/{fmt}"] = write(det, tmp / "detection" / fmt, fmt, images="copy")
            for fmt in ("folders", "csv"):
                reports[f"classification/{fmt}"] = write(cls, tmp / "classification" / fmt, fmt, images="copy")
            (tmp / "README.md").write_text(_readme(det, cls, reports, seed), encoding="utf-8", newline="\n")
    finally:
        shutil.rmtree(raw, ignore_errors=True)
    for report in reports.values():
        report.path = str(out / Path(report.path).relative_to(tmp))
    return reports


def generate_detection(
    out_dir: str | Path, *, images: int = 2000, seed: int = 0, to: str = "coco", overwrite: bool = False
) -> WriteReport:
    """Write a larger detection set of the bundled kind (digit scenes, ~70/20/10 splits) for real training.

    Image ``k`` is the same in every size of set (its own generator), so the bundled 50 are its first 50.

    Raises:
        MissingExtraError: scikit-learn is not installed.
        OutputError: `out_dir` exists without `overwrite`.
        UsageError: fewer than 10 images.
    """
    from dataprep.formats import write

    if images < 10:
        raise UsageError(f"--images {images}: generate at least 10 images (train, val and test each need some)")
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: already exists. Pass --overwrite to replace it, or choose another folder")
    _load_digits()
    raw = Path(tempfile.mkdtemp(prefix=".samples-raw-"))
    try:
        det = make_detection_dataset(raw, seed=seed, n_images=images)
        return write(det, out, to, images="copy", overwrite=overwrite)
    finally:
        shutil.rmtree(raw, ignore_errors=True)


__all__ = [
    "CLASSIFICATION_CLASSES",
    "DETECTION_CLASSES",
    "MissingExtraError",
    "generate_detection",
    "make_classification_dataset",
    "make_detection_dataset",
    "regenerate",
]
