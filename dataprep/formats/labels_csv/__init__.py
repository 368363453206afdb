"""Image classification labels in one csv file (``labels.csv``): one row per (image, label).

Header: a file column (``file_name``; also ``filename``, ``file``, ``image``, ``image_name``,
``image_path``, ``path``, ``img``) and a label column (``label``; also ``labels``, ``class``,
``class_name``, ``category``, ``category_name``), any case, plus an optional ``split`` (or
``subset``) column. Other columns are ignored (and noted). Without a label column, one 0/1
column per class is read as one-hot labels (Roboflow's ``_classes.csv``: ``filename,cat,dog``).
A folder of ``train``/``valid``/``test`` folders with one csv each is read as one dataset, the
split taken from the folder. A header with box columns (``xmin``...) is a detection csv: not
detected as this format, and read, if asked, for its class column only.

Multi-label: the reader accepts several rows per image *and* several labels joined by ``;``
in one cell (``cat;dog``); the writer writes one row per label. An empty label cell is an image
without a label. File names are POSIX paths relative to the csv's folder, or to an ``images/``
folder beside it when that is where the files are. Categories are the distinct labels sorted
by name (numerically when every label is an integer, so ``"2"`` comes before ``"10"``), ids
1..C.

The writer writes ``labels.csv`` (``file_name,label[,split]``, sorted by file name then label,
``\\n`` line ends, UTF-8) and copies the images to ``images/<name>``, ``<name>`` being the file
name without the directory prefix all images share; the csv's file names include ``images/``.

Modules by role: `layout` (which csv files, detection, where file names resolve), `parse`
(csv bytes -> one row per label, bad rows and split conflicts reported), `write` (`plan` and
`write` on one ``_prepare``); this module holds `FORMAT` and `read`. Findings of `validate` are
located by the generic rules (no format-specific hooks).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import Finding
from dataprep.formats.base import FormatSpec, OnError, ReadResult
from dataprep.formats.labels_csv.layout import CSV_NAME, NAME, detect, resolve_root, sources
from dataprep.formats.labels_csv.parse import LABEL_SEPARATOR, drop_split_conflicts, order_names, read_sources
from dataprep.formats.labels_csv.write import CAPABILITIES, plan, write

__all__ = ["CAPABILITIES", "CSV_NAME", "FORMAT", "LABEL_SEPARATOR", "detect", "plan", "read", "write"]


def read(
    path: Path,
    *,
    on_error: OnError = "raise",
    provenance: bool = False,
    file_column: str | None = None,
    label_column: str | None = None,
    label_separator: str | None = LABEL_SEPARATOR,
) -> ReadResult:
    """Read image-level labels from a csv (or one csv per split folder).

    Args:
        path: a csv file; a folder holding ``labels.csv`` (or ``_classes.csv``, or exactly one
            csv); or a folder of ``train``/``valid``/``test`` folders holding one each, whose
            file names are then relative to their split folder.
        on_error: ``"collect"`` skips bad rows (empty or unsafe file name, an image given two
            splits) and returns them as findings.
        provenance: also return the csv line of each image and label.
        file_column, label_column: header names to use instead of the usual ones.
        label_separator: splits a label cell into several labels; ``None`` keeps cells whole.

    Raises:
        InputError: unreadable csv, a missing column, or (with ``on_error="raise"``) a bad row,
            naming the file and line.
    """
    path = Path(path)
    notes: list[str] = []
    findings: list[Finding] = []
    # 1. layout: the csv file(s), one per split folder or one for all
    csv_sources = sources(path)
    # 2. parse: one row per (image, label), bad rows and split conflicts reported
    options = {"file_column": file_column, "label_column": label_column, "label_separator": label_separator}
    table, declared = read_sources(csv_sources, on_error, findings, notes, options)
    table = drop_split_conflicts(table, on_error, findings)
    # 3. tables: images in file-name order, categories by name, one annotation per label
    images, categories, pairs = _tables(table, declared, notes)
    annotation_ids = np.arange(1, len(pairs) + 1, dtype=np.int64)
    annotations = pd.DataFrame(
        {"annotation_id": annotation_ids, "image_id": pairs["image_id"], "category_id": pairs["category_id"]}
    )
    if csv_sources[0][1]:
        root = path  # file names were prefixed with their split folder
    else:
        root, note = resolve_root(csv_sources[0][0].parent, images["file_name"])
        if note:
            notes.append(note)
    unlabeled = len(images) - pairs["image_id"].nunique()
    if unlabeled:
        notes.append(f"{unlabeled} image(s) with an empty label read as images without a label")
    # 4. the result, with the csv line of each row when asked
    ds = Dataset.from_frames(images, annotations, categories, root=root)
    result = ReadResult(ds, NAME, findings=findings, notes=notes)
    if provenance:
        _add_provenance(result, table, pairs, [p for p, _ in csv_sources], root)
    return result


def _tables(
    table: pd.DataFrame, declared: list[str], notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(images, categories, labels)``: labels are ``image_id, category_id, line, csv`` rows, sorted."""
    file_order = np.sort(table["file"].unique().astype(object))
    image_ids = np.arange(1, len(file_order) + 1, dtype=np.int64)
    split_of = table.dropna(subset=["split"]).drop_duplicates("file").set_index("file")["split"]
    images = pd.DataFrame(
        {"image_id": image_ids, "file_name": file_order, "split": split_of.reindex(file_order).to_numpy(dtype=object)}
    )
    labelled = table[table["label"] != ""]
    dup = labelled.duplicated(["file", "label"])
    if dup.any():
        notes.append(
            f"{int(dup.sum())} repeated (image, label) pair(s) kept once "
            f"(e.g. line {int(labelled['line'][dup].iloc[0])})"
        )
        labelled = labelled[~dup.to_numpy()]
    names = order_names(sorted(set(labelled["label"].unique().tolist()) | set(declared)))
    categories = pd.DataFrame({"category_id": np.arange(1, len(names) + 1, dtype=np.int64), "name": names})
    image_of = pd.Series(image_ids, index=pd.Index(file_order, dtype=object))
    cat_of = pd.Series(categories["category_id"].to_numpy(), index=pd.Index(names, dtype=object))
    pairs = pd.DataFrame(
        {
            "image_id": image_of.reindex(labelled["file"].to_numpy()).to_numpy(dtype=np.int64),
            "category_id": cat_of.reindex(labelled["label"].to_numpy()).to_numpy(dtype=np.int64),
            "line": labelled["line"].to_numpy(dtype=np.int64),
            "csv": labelled["csv"].to_numpy(),
        }
    ).sort_values(["image_id", "category_id"], kind="stable", ignore_index=True)
    return images, categories, pairs


def _add_provenance(
    result: ReadResult, table: pd.DataFrame, pairs: pd.DataFrame, csv_paths: list[Path], root: Path
) -> None:
    """The csv file and line of each image (its first row) and of each label."""
    ds = result.dataset
    rel = {p: os.path.relpath(p, root).replace(os.sep, "/") for p in csv_paths}
    file_order = ds.images["file_name"].astype(object).to_numpy()
    first_rows = table.drop_duplicates("file").set_index("file").reindex(file_order)
    result.image_sources = pd.DataFrame(
        {"file": first_rows["csv"].map(rel).to_numpy(), "line": first_rows["line"].to_numpy(dtype=np.int64)},
        index=pd.Index(ds.images.index.to_numpy(), name="image_id"),
    )
    result.annotation_sources = pd.DataFrame(
        {
            "file": pairs["csv"].map(rel).to_numpy(),
            "line": pd.array(pairs["line"].to_numpy(), dtype="Int64"),
            "record": np.nan,
        },
        index=pd.Index(ds.annotations.index.to_numpy(), name="annotation_id"),
    )


FORMAT = FormatSpec(
    NAME,
    "labels.csv with file_name,label[,split] rows (multi-label: one row per label or 'a;b')",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".csv",),
    plan=plan,
)
