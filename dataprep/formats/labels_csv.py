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
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError
from dataprep.files import check_member, clean_members, member_paths
from dataprep.formats._classification import (
    dedupe_paths,
    id_change_loss,
    label_table,
    renamed_loss,
    sanitize_names,
)
from dataprep.formats.base import (
    MAX_EXAMPLES,
    SPLIT_ALIASES,
    Capabilities,
    FormatSpec,
    Loss,
    OnError,
    ReadResult,
    WriteReport,
    place_images,
    plan_losses,
)

NAME = "csv"
CSV_NAME = "labels.csv"
ROBOFLOW_NAME = "_classes.csv"  # Roboflow's multi-label classification export: filename + one 0/1 column per class
IMAGES_DIR = "images"
CAPABILITIES = Capabilities(boxes=False, image_level_labels=True, splits=True)
FILE_COLUMNS = ("file_name", "filename", "file", "image", "image_name", "image_path", "path", "img")
LABEL_COLUMNS = ("label", "labels", "class", "class_name", "category", "category_name")
SPLIT_COLUMNS = ("split", "subset")
# A header with these is a detection csv (Roboflow / TF object-detection exports): not ours to guess.
BOX_COLUMNS = frozenset({"xmin", "ymin", "xmax", "ymax", "x_min", "y_min", "x_max", "y_max", "bbox", "box"})
LABEL_SEPARATOR = ";"
_PROBE = 20  # file names checked on disk to decide where images resolve


def _file_name_error(raw: str, text: str, clean: str, file_col: str, csv_path: Path, line: int) -> InputError:
    """Why `files.clean_members` refused a file-name cell: empty, a folder (``sub/``) or unsafe."""
    absolute = text.replace("\\", "/").startswith("/")
    if clean == "" and not absolute:
        return InputError(csv_path, f"empty {file_col!r}", line=line, hint="Give every row an image file name")
    try:
        check_member(text if absolute else clean, path=csv_path, record=f"line {line}")
    except InputError as unsafe:
        return InputError(csv_path, f"unsafe file name {text!r}", line=line, hint=unsafe.hint)
    problem = f"{file_col!r} {raw!r} names a folder, not a file"
    return InputError(csv_path, problem, line=line, hint="Give the image file's name")


def _find_column(header: list[str], candidates: tuple[str, ...], given: str | None) -> tuple[str | None, list[str]]:
    """The header entry to use for a role, and the other candidates present (for a note)."""
    if given is not None:
        return (given if given in header else None), []
    lowered = {h.strip().lower(): h for h in header}
    present = [lowered[c] for c in candidates if c in lowered]
    return (present[0] if present else None), present[1:]


def _sources(path: Path) -> list[tuple[Path, str]]:
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
    sources = [(csv_path, name) for csv_path, name in per_split if csv_path is not None]
    if sources:
        return sources
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
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.reader([f.readline() for _ in range(n)]))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _one_hot_columns(header: list[str], file_col: str, split_col: str | None) -> list[str]:
    return [h for h in header if h not in (file_col, split_col)]


def detect(path: Path) -> float | None:
    """0.9 for ``labels.csv`` (0.8 another single csv) whose header names files and labels.

    Also 0.8 for Roboflow's one-hot ``_classes.csv`` (``filename,cat,dog`` with 0/1 cells),
    alone or one per split folder; a csv given directly with a 0/1 first row scores 0.6.
    """
    try:
        sources = _sources(path)
    except (InputError, OSError):
        return None
    csv_path = sources[0][0]
    if csv_path.suffix.lower() != ".csv":
        return None
    rows = _first_lines(csv_path)
    if not rows or not rows[0]:
        # an empty labels.csv is still this format's file (the reader says what is wrong with
        # it), never a reason to read the folder as class folders (issue 7, item 20)
        return 0.3 if csv_path.name == CSV_NAME else None
    header = rows[0]
    file_col = _find_column(header, FILE_COLUMNS, None)[0]
    if file_col is None or any(h.strip().lower() in BOX_COLUMNS for h in header):
        return None
    if _find_column(header, LABEL_COLUMNS, None)[0] is not None:
        return 0.9 if csv_path.name == CSV_NAME or path.is_file() else 0.8
    split_col = _find_column(header, SPLIT_COLUMNS, None)[0]
    hot = _one_hot_columns(header, file_col, split_col)
    if not hot:
        return None
    if csv_path.name == ROBOFLOW_NAME:
        return 0.8
    if len(rows) > 1 and len(rows[1]) == len(header):
        cells = [v.strip() for h, v in zip(header, rows[1], strict=True) if h in hot]
        if cells and all(v in ("0", "1") for v in cells):
            return 0.6
    return None


def _split_value(values: pd.Series) -> pd.Series:
    """Split names as stored: aliases (valid, validation...) unified, empty -> NaN."""
    out = [
        np.nan if not isinstance(v, str) or v == "" else SPLIT_ALIASES.get(v.lower(), v) or np.nan
        for v in values.tolist()
    ]
    return pd.Series(out, index=values.index, dtype=object)


def _order_names(names: list[str]) -> list[str]:
    """Category order: numeric when every name is an integer, else plain sorted."""
    if names and all(re.fullmatch(r"[+-]?\d+", n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def _raise_or_collect(err: InputError, on_error: OnError, findings: list[Finding], code: str) -> None:
    if on_error == "raise":
        raise err
    findings.append(err.to_finding(code))


def _resolve_root(folder: Path, names: pd.Series) -> tuple[Path, str | None]:
    """The folder file names resolve against: the csv's own, or ``images/`` beside it."""
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


def _load_frame(csv_path: Path) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """All cells as stripped-free strings, and the 1-based line of each row (blank lines dropped).

    Raises:
        InputError: empty file, malformed csv (with its line), or not UTF-8.
    """
    try:
        df = pd.read_csv(
            csv_path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            skipinitialspace=True,
            skip_blank_lines=False,  # keep row positions equal to line numbers; blank rows dropped below
        )
    except pd.errors.EmptyDataError:
        raise InputError(csv_path, "the file is empty", hint="Write a header line such as 'file_name,label'") from None
    except pd.errors.ParserError as err:
        match = re.search(r"line (\d+)", str(err))
        line = int(match.group(1)) if match else None
        raise InputError(
            csv_path,
            f"not a valid csv ({str(err).strip()})",
            line=line,
            hint="Quote cells that contain commas, and give every row as many cells as the header",
        ) from None
    except UnicodeDecodeError as err:
        raise InputError(
            csv_path, f"not UTF-8 text (byte {err.start})", hint="Re-save the file as UTF-8 (CSV UTF-8 in Excel)"
        ) from None
    lines = np.arange(2, len(df) + 2, dtype=np.int64)
    blank = (df == "").all(axis=1).to_numpy() if len(df.columns) else np.zeros(len(df), bool)
    if blank.any():
        df, lines = df[~blank], lines[~blank]
    return df, lines


def _columns(
    csv_path: Path, df: pd.DataFrame, file_column: str | None, label_column: str | None, notes: list[str]
) -> tuple[str, str | None, str | None, list[str]]:
    """``(file column, label column, split column, one-hot columns)`` of a csv's header; others noted.

    Raises:
        InputError: no file-name column, or neither a label column nor 0/1 one-hot columns.
    """
    header = [str(c) for c in df.columns]
    file_col, other_files = _find_column(header, FILE_COLUMNS, file_column)
    label_col, other_labels = _find_column(header, LABEL_COLUMNS, label_column)
    split_col, _ = _find_column(header, SPLIT_COLUMNS, None)
    if file_col is None:
        _missing_column(csv_path, header, "file-name", file_column, FILE_COLUMNS)
    hot: list[str] = []
    if label_col is None:
        hot = [] if label_column else _one_hot_columns(header, file_col, split_col)
        cells = df[hot].apply(lambda c: c.str.strip()) if hot else None
        if not hot or not cells.isin(["0", "1", ""]).all().all():
            _missing_column(csv_path, header, "label", label_column, LABEL_COLUMNS)
        notes.append(f"{csv_path.name}: one-hot label columns {', '.join(h.strip() for h in hot)}")
    for col, others in ((file_col, other_files), (label_col, other_labels)):
        if others:
            notes.append(f"column {col!r} used; also present: {', '.join(others)}")
    ignored = [h for h in header if h not in (file_col, label_col, split_col, *hot)]
    if ignored:
        notes.append(f"ignored columns: {', '.join(ignored)}")
    boxes = [h for h in ignored if h.strip().lower() in BOX_COLUMNS]
    if boxes:
        notes.append(
            f"{csv_path.name} has box columns ({', '.join(boxes)}): the csv format reads image-level labels only"
        )
    return file_col, label_col, split_col, hot


def _parse(
    csv_path: Path,
    *,
    on_error: OnError,
    findings: list[Finding],
    notes: list[str],
    file_column: str | None,
    label_column: str | None,
    label_separator: str | None,
) -> tuple[pd.DataFrame, list[str]]:
    """Rows ``file, label ("" = none), split (NaN = none), line`` of one csv, one label per row.

    Also returns the category names the header declares (one-hot columns), if any.
    """
    df, lines = _load_frame(csv_path)
    file_col, label_col, split_col, hot = _columns(csv_path, df, file_column, label_column, notes)
    stripped = df[file_col].str.strip()
    clean, bad_mask = clean_members(stripped)
    files = pd.Series(clean, index=df.index, dtype=object)
    splits = _split_value(df[split_col].str.strip()) if split_col else pd.Series(np.nan, index=df.index, dtype=object)
    bad = pd.Series(bad_mask, index=df.index)
    for i in np.flatnonzero(bad_mask):
        err = _file_name_error(df[file_col].iloc[i], stripped.iloc[i], clean[i], file_col, csv_path, int(lines[i]))
        _raise_or_collect(err, on_error, findings, "bad-file-name")
    keep = ~bad.to_numpy()

    if hot:
        # one row per (image, column with a 1); images with no 1 keep one row with no label
        ones = (df[hot].apply(lambda c: c.str.strip()) == "1").to_numpy() & keep[:, None]
        rows, cols = np.nonzero(ones)
        names = np.array([h.strip() for h in hot], dtype=object)
        bare = keep & ~ones.any(axis=1)
        table = pd.DataFrame(
            {
                "file": np.concatenate([files.to_numpy()[rows], files.to_numpy()[bare]]),
                "label": np.concatenate([names[cols], np.full(int(bare.sum()), "", dtype=object)]),
                "split": np.concatenate([splits.to_numpy()[rows], splits.to_numpy()[bare]]),
                "line": np.concatenate([lines[rows], lines[bare]]),
            }
        )
        return table.sort_values("line", kind="stable", ignore_index=True), [str(n) for n in names]
    table = pd.DataFrame(
        {
            "file": files.to_numpy()[keep],
            "label": df[label_col].str.strip().to_numpy()[keep],
            "split": splits.to_numpy()[keep],
            "line": lines[keep],
        }
    )
    if label_separator:
        table = table.assign(label=table["label"].str.split(label_separator, regex=False)).explode(
            "label", ignore_index=True
        )
        table["label"] = table["label"].str.strip()
    return table, []


def _missing_column(csv_path: Path, header: list[str], role: str, given: str | None, names: tuple[str, ...]) -> None:
    """Raise the error for a header without a file-name or label column."""
    single = len(header) == 1 and any(sep in header[0] for sep in (";", "\t"))
    if single:
        hint = "The file looks ';'- or tab-separated: save it comma-separated"
    elif given:
        hint = f"Rename a column to {given!r} or pass another {role.replace('-', '_')}_column="
    else:
        hint = f"Rename a column to {names[0]!r} (or {', '.join(names[1:4])}), or pass {role.replace('-', '_')}_column="
        if role == "label":
            hint += ", or give one 0/1 column per class"
    problem = (
        f"no {role} column {given!r}"
        if given
        else f"no {role} column in the header (found: {', '.join(map(repr, header))})"
    )
    raise InputError(csv_path, problem, line=1, hint=hint)


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
    sources = _sources(path)
    # 2. parse: one row per (image, label), bad rows and split conflicts reported
    options = {"file_column": file_column, "label_column": label_column, "label_separator": label_separator}
    table, declared = _read_sources(sources, on_error, findings, notes, options)
    table = _drop_split_conflicts(table, on_error, findings)
    # 3. tables: images in file-name order, categories by name, one annotation per label
    images, categories, pairs = _tables(table, declared, notes)
    annotation_ids = np.arange(1, len(pairs) + 1, dtype=np.int64)
    annotations = pd.DataFrame(
        {"annotation_id": annotation_ids, "image_id": pairs["image_id"], "category_id": pairs["category_id"]}
    )
    if sources[0][1]:
        root = path  # file names were prefixed with their split folder
    else:
        root, note = _resolve_root(sources[0][0].parent, images["file_name"])
        if note:
            notes.append(note)
    unlabeled = len(images) - pairs["image_id"].nunique()
    if unlabeled:
        notes.append(f"{unlabeled} image(s) with an empty label read as images without a label")
    # 4. the result, with the csv line of each row when asked
    ds = Dataset.from_frames(images, annotations, categories, root=root)
    result = ReadResult(ds, NAME, findings=findings, notes=notes)
    if provenance:
        _add_provenance(result, table, pairs, [p for p, _ in sources], root)
    return result


def _read_sources(
    sources: list[tuple[Path, str]], on_error: OnError, findings: list[Finding], notes: list[str], options: dict
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of every csv (file names prefixed with their split folder), and the declared classes."""
    tables = []
    declared: list[str] = []
    for csv_path, folder in sources:
        table, names = _parse(csv_path, on_error=on_error, findings=findings, notes=notes, **options)
        declared += names
        if folder:
            table["file"] = folder + "/" + table["file"]
            default = SPLIT_ALIASES.get(folder.lower(), folder)
            table["split"] = table["split"].where(table["split"].notna(), default)
        table["csv"] = csv_path
        tables.append(table)
    if len(sources) > 1 or sources[0][1]:
        notes.append("layout: one csv per split folder (" + ", ".join(f for _, f in sources) + ")")
    return (pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]), declared


def _drop_split_conflicts(table: pd.DataFrame, on_error: OnError, findings: list[Finding]) -> pd.DataFrame:
    """One split per image: rows of the same file naming two splits are a contradiction (reported, dropped)."""
    known = table.dropna(subset=["split"])
    n_split = known.groupby("file", sort=False)["split"].nunique()
    conflicted = n_split.index[n_split.to_numpy() > 1]
    for name in conflicted:
        first = known[known["file"] == name].drop_duplicates("split").head(2)
        err = InputError(
            first["csv"].iloc[1],
            f"{name!r} is in split {first['split'].iloc[0]!r} (line {first['line'].iloc[0]}) "
            f"and {first['split'].iloc[1]!r} (line {first['line'].iloc[1]})",
            line=int(first["line"].iloc[1]),
            hint="An image belongs to one split: fix the split column",
        )
        _raise_or_collect(err, on_error, findings, "split-conflict")
    if len(conflicted):
        table = table[~table["file"].isin(conflicted)]
    return table


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
    names = _order_names(sorted(set(labelled["label"].unique().tolist()) | set(declared)))
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


# -- write -------------------------------------------------------------------------------


def _strip_common_dir(names: pd.Series) -> pd.Series:
    """File names without the longest directory prefix they all share."""
    dirs = names.str.rpartition("/")[0].unique().tolist()
    if not dirs or "" in dirs:
        return names
    parts = [d.split("/") for d in dirs]
    common: list[str] = []
    for segs in zip(*parts, strict=False):
        if any(s != segs[0] for s in segs):
            break
        common.append(segs[0])
    return names.str.slice(len("/".join(common)) + 1) if common else names


def _label_texts(cats: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.Series, list[Loss]]:
    """Label text per category_id, and the renamed / unused / id-changed losses."""
    losses: list[Loss] = []
    label_text = sanitize_names(
        cats["name"], forbidden=re.compile(re.escape(LABEL_SEPARATOR) + r"|[\x00-\x1f]"), path_component=False
    )
    used = np.unique(labels["category_id"].to_numpy())
    in_use = cats.index.isin(used)
    loss = renamed_loss(cats["name"][in_use], label_text[in_use], what="label", format_name=NAME)
    if loss:
        losses.append(loss)
    unused = cats.index[~cats.index.isin(used)]
    if len(unused):
        losses.append(
            Loss(
                "category-dropped",
                f"{NAME} lists labels only: {len(unused)} categor{'y' if len(unused) == 1 else 'ies'} without any "
                f"label dropped ({', '.join(map(repr, cats['name'][unused][:3]))})",
                len(unused),
                [int(i) for i in unused[:MAX_EXAMPLES]],
                unit="category",
            )
        )
    kept = cats.loc[cats.index.isin(used)]
    rank = {name: k for k, name in enumerate(_order_names(label_text[kept.index].tolist()))}
    order = sorted(kept.index.tolist(), key=lambda i: rank[label_text[i]])
    loss = id_change_loss(cats, order, format_name=NAME)
    if loss:
        losses.append(loss)
    return label_text, losses


def _layout(ds: Dataset) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, list[Loss]]:
    """Rows to write, image copies (image_id -> out path), label text per category, format losses."""
    labels, losses = label_table(ds)
    label_text, label_losses = _label_texts(ds.categories, labels)
    losses += label_losses
    images = ds.images
    out = IMAGES_DIR + "/" + _strip_common_dir(images["file_name"].astype(object).str.replace("\\", "/", regex=False))
    out, renamed = dedupe_paths(out)
    if renamed:
        losses.append(
            Loss(
                "file-renamed",
                f"{len(renamed)} image(s) share a file name with another: written as <name>_<image_id><suffix>",
                len(renamed),
                renamed[:MAX_EXAMPLES],
                unit="image",
            )
        )
    has_split = images["split"].notna().any()
    split = images["split"].astype(object).where(images["split"].notna(), "")
    rows = pd.DataFrame(
        {
            "file_name": out.reindex(labels["image_id"].to_numpy()).to_numpy(dtype=object),
            "label": label_text.reindex(labels["category_id"].to_numpy()).to_numpy(dtype=object),
            "split": split.reindex(labels["image_id"].to_numpy()).to_numpy(dtype=object),
        }
    )
    bare = images.index[~images.index.isin(labels["image_id"].unique())]
    empty_rows = pd.DataFrame(
        {"file_name": out[bare].to_numpy(dtype=object), "label": "", "split": split[bare].to_numpy(dtype=object)}
    )
    rows = pd.concat([rows, empty_rows], ignore_index=True).sort_values(
        ["file_name", "label"], kind="stable", ignore_index=True
    )
    if not has_split:
        rows = rows.drop(columns="split")
    return rows, pd.DataFrame({"out": out}, index=images.index), label_text, losses


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as a labels csv would drop or change (generic + format-specific)."""
    generic = plan_losses(ds, CAPABILITIES, format_name=NAME)
    # split names are csv text here, not file names: any name is kept as it is
    return [loss for loss in generic if loss.code != "split-renamed"] + _layout(ds)[3]


def write(ds: Dataset, out_dir: Path, *, images: str = "copy") -> WriteReport:
    """Write ``labels.csv`` and copy the images to ``images/`` under `out_dir`.

    Raises:
        OutputError: a file name would escape `out_dir`.
    """
    out_dir = Path(out_dir)
    rows, copies, _, _ = _layout(ds)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out_dir / CSV_NAME, index=False, lineterminator="\n", encoding="utf-8")
    dests = member_paths(out_dir, copies["out"].tolist()) if images != "none" else []
    placed, missing = place_images(ds, dests, images)
    return WriteReport(
        format=NAME,
        path=str(out_dir),
        images=len(copies),
        annotations=int((rows["label"] != "").sum()),
        categories=int(rows["label"][rows["label"] != ""].nunique()),
        images_transferred=placed,
        images_missing=missing,
        options={"label_rows": "one row per label"},
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

__all__ = ["FORMAT", "detect", "plan", "read", "write"]
