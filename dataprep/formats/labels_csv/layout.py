"""Where a labels csv is: the csv file(s) to read, detection, and the folder file names resolve against."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from dataprep.errors import InputError
from dataprep.formats.base import SPLIT_ALIASES

NAME = "csv"
CSV_NAME = "labels.csv"
ROBOFLOW_NAME = "_classes.csv"  # Roboflow's multi-label classification export: filename + one 0/1 column per class
IMAGES_DIR = "images"
FILE_COLUMNS = ("file_name", "filename", "file", "image", "image_name", "image_path", "path", "img")
LABEL_COLUMNS = ("label", "labels", "class", "class_name", "category", "category_name")
SPLIT_COLUMNS = ("split", "subset")
# A header with these is a detection csv (Roboflow / TF object-detection exports): not ours to guess.
BOX_COLUMNS = frozenset({"xmin", "ymin", "xmax", "ymax", "x_min", "y_min", "x_max", "y_max", "bbox", "box"})
_PROBE = 20  # file names checked on disk to decide where images resolve


def find_column(header: list[str], candidates: tuple[str, ...], given: str | None) -> tuple[str | None, list[str]]:
    """The header entry to use for a role, and the other candidates present (for a note)."""
    if given is not None:
        return (given if given in header else None), []
    lowered = {h.strip().lower(): h for h in header}
    present = [lowered[c] for c in candidates if c in lowered]
    return (present[0] if present else None), present[1:]


def one_hot_columns(header: list[str], file_col: str, split_col: str | None) -> list[str]:
    """The header entries read as one 0/1 column per class: all but the file and split columns."""
    return [h for h in header if h not in (file_col, split_col)]


def sources(path: Path) -> list[tuple[Path, str]]:
    """The csv files to read for `path`, each with the folder (relative to `path`) it labels.

    A csv file; a folder holding ``labels.csv``, ``_classes.csv`` or exactly one csv; or a
    folder of split folders each holding one (Roboflow's ``train/_classes.csv`` layout).

    Raises:
        InputError: no csv found, or several and none of the usual names.
    """
    if path.is_file():
        return [(path, "")]
    found = _folder_csv(path)
    if found is not None:
        return [(found, "")]
    split_dirs = sorted(d for d in path.iterdir() if d.is_dir() and d.name.lower() in SPLIT_ALIASES)
    per_split = [(_folder_csv(d), d.name) for d in split_dirs]
    found_per_split = [(csv_path, name) for csv_path, name in per_split if csv_path is not None]
    if found_per_split:
        return found_per_split
    several = sorted(p.name for p in path.glob("*.csv") if p.is_file())
    if several:
        raise InputError(
            path,
            f"{len(several)} csv files and none named {CSV_NAME} ({', '.join(several[:4])})",
            hint="Pass the csv file to read",
        )
    raise InputError(
        path,
        f"no {CSV_NAME} in this folder (nor in train/val/test folders)",
        hint="Pass the csv file itself, or name it labels.csv",
    )


def _folder_csv(folder: Path) -> Path | None:
    """``labels.csv``, else ``_classes.csv``, else the folder's only csv (None if none or several)."""
    for name in (CSV_NAME, ROBOFLOW_NAME):
        if (folder / name).is_file():
            return folder / name
    found = [p for p in folder.glob("*.csv") if p.is_file()]
    return found[0] if len(found) == 1 else None


def _first_lines(path: Path, n: int = 2) -> list[list[str]]:
    """The first `n` rows of a csv (empty when unreadable)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.reader([f.readline() for _ in range(n)]))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def detect(path: Path) -> float | None:
    """0.9 for ``labels.csv`` (0.8 another single csv) whose header names files and labels.

    Also 0.8 for Roboflow's one-hot ``_classes.csv`` (``filename,cat,dog`` with 0/1 cells),
    alone or one per split folder; a csv given directly with a 0/1 first row scores 0.6.
    """
    try:
        csv_path = sources(path)[0][0]
    except (InputError, OSError):
        return None
    if csv_path.suffix.lower() != ".csv":
        return None
    rows = _first_lines(csv_path)
    if not rows or not rows[0]:
        # an empty labels.csv is still this format's file (the reader says what is wrong with
        # it), never a reason to read the folder as class folders (issue 7, item 20)
        return 0.3 if csv_path.name == CSV_NAME else None
    header = rows[0]
    file_col = find_column(header, FILE_COLUMNS, None)[0]
    if file_col is None or any(h.strip().lower() in BOX_COLUMNS for h in header):
        return None
    if find_column(header, LABEL_COLUMNS, None)[0] is not None:
        return 0.9 if csv_path.name == CSV_NAME or path.is_file() else 0.8
    split_col = find_column(header, SPLIT_COLUMNS, None)[0]
    hot = one_hot_columns(header, file_col, split_col)
    if not hot:
        return None
    if csv_path.name == ROBOFLOW_NAME:
        return 0.8
    if len(rows) > 1 and len(rows[1]) == len(header):
        cells = [v.strip() for h, v in zip(header, rows[1], strict=True) if h in hot]
        if cells and all(v in ("0", "1") for v in cells):
            return 0.6
    return None


def resolve_root(folder: Path, names: pd.Series) -> tuple[Path, str | None]:
    """The folder file names resolve against: the csv's own, or ``images/`` beside it; and a note."""
    probe = names.drop_duplicates().head(_PROBE).tolist()
    if not probe:
        return folder, None
    here = sum(os.path.exists(folder / n) for n in probe)
    if here == len(probe):
        return folder, None
    alt = folder / IMAGES_DIR
    there = sum(os.path.exists(alt / n) for n in probe) if alt.is_dir() else 0
    if there > here:
        return alt, f"image file names resolve against {alt}"
    if here == 0:
        return folder, f"none of the first {len(probe)} listed image files exist next to the csv or in {IMAGES_DIR}/"
    return folder, None
