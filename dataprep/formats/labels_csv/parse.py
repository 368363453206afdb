"""csv bytes -> rows ``file, label, split, line`` (one label per row), bad rows and split conflicts reported."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.errors import Finding, InputError
from dataprep.files import check_member, clean_members
from dataprep.formats.base import SPLIT_ALIASES, OnError
from dataprep.formats.labels_csv.layout import (
    BOX_COLUMNS,
    FILE_COLUMNS,
    LABEL_COLUMNS,
    SPLIT_COLUMNS,
    find_column,
    one_hot_columns,
)

LABEL_SEPARATOR = ";"


def order_names(names: list[str]) -> list[str]:
    """Category order: numeric when every name is an integer, else plain sorted."""
    if names and all(re.fullmatch(r"[+-]?\d+", n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def read_sources(
    sources: list[tuple[Path, str]], on_error: OnError, findings: list[Finding], notes: list[str], options: dict
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of every csv (file names prefixed with their split folder), and the declared classes."""
    tables = []
    declared: list[str] = []
    for csv_path, folder in sources:
        table, names = parse(csv_path, on_error=on_error, findings=findings, notes=notes, **options)
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


def drop_split_conflicts(table: pd.DataFrame, on_error: OnError, findings: list[Finding]) -> pd.DataFrame:
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


def parse(
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
    file_col, other_files = find_column(header, FILE_COLUMNS, file_column)
    label_col, other_labels = find_column(header, LABEL_COLUMNS, label_column)
    split_col, _ = find_column(header, SPLIT_COLUMNS, None)
    if file_col is None:
        _missing_column(csv_path, header, "file-name", file_column, FILE_COLUMNS)
    hot: list[str] = []
    if label_col is None:
        hot = [] if label_column else one_hot_columns(header, file_col, split_col)
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


def _split_value(values: pd.Series) -> pd.Series:
    """Split names as stored: aliases (valid, validation...) unified, empty -> NaN."""
    out = [
        np.nan if not isinstance(v, str) or v == "" else SPLIT_ALIASES.get(v.lower(), v) or np.nan
        for v in values.tolist()
    ]
    return pd.Series(out, index=values.index, dtype=object)


def _raise_or_collect(err: InputError, on_error: OnError, findings: list[Finding], code: str) -> None:
    if on_error == "raise":
        raise err
    findings.append(err.to_finding(code))
