"""``validate``: read a dataset, run every selected check, and return a `Report`.

Reader problems (records that could not be parsed, collected rather than raised), schema
violations of metadata documents and the semantic checks of `checks.py` all become rows of
one findings table. Codes are stable and kebab-case; ``select``/``ignore`` take codes or
code prefixes (``box`` = every ``box-*`` code), like a linter's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError, Severity, UsageError
from dataprep.validation.checks import CHECKS, FINDING_COLUMNS, Check, class_histogram, empty_findings
from dataprep.validation.context import CheckContext, Thresholds, format_hooks, formats_applying
from dataprep.validation.report import SEVERITY_ORDER, Report

if TYPE_CHECKING:
    from dataprep.formats.base import Document

__all__ = ["CHECKS", "Check", "CheckContext", "Report", "Thresholds", "validate"]


def validate(
    source: str | Path | Dataset,
    *,
    format: str = "auto",
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    severity: dict[str, str] | None = None,
    images: bool | None = None,
    decode: bool | None = None,
    thresholds: Thresholds | dict[str, float] | None = None,
    manifest: str | Path | dict[str, Any] | bool | None = None,
    diff: str | Path | Dataset | None = None,
) -> Report:
    """Check a dataset and report every problem found, with where it is and how to fix it.

    Args:
        source: a dataset folder or label file (read with ``on_error="collect"``, so
            unparseable records become findings), or an in-memory `Dataset`.
        format: reader to use, or ``"auto"`` (the manifest's ``format`` when it has one).
        select: only these codes or code prefixes (replaces the manifest's ``select``).
        ignore: skip these codes or prefixes (added to the manifest's ``ignore``).
        severity: ``code -> "error" | "warning" | "info"`` overrides (on top of the manifest's).
        images: open image files (headers, sizes, EXIF, content hashes); None = the
            manifest's setting, else True.
        decode: also decode every image fully to find truncated files (slower); None = the
            manifest's setting, else False.
        thresholds: limits of the warning checks (`Thresholds` or a dict of its fields).
        manifest: a manifest file or dict; None looks for ``dataprep.yaml``/``.yml``/``.json``
            beside the dataset; False uses none.
        diff: a base version (folder, git revision, or Dataset) to compare with: the report's
            `diff` then says what was added or removed per class.

    Raises:
        InputError: `source` (or the manifest, or the diff base) cannot be read at all.
        UsageError: an unknown code in `select`/`ignore`/`severity`, or a bad threshold.
    """
    started = time.perf_counter()
    path = None if isinstance(source, Dataset) else Path(source)
    manifest_doc, manifest_note = _manifest(manifest, path)
    settings = _settings(manifest_doc, select=select, ignore=ignore, severity=severity, thresholds=thresholds)
    if format == "auto" and manifest_doc.get("format"):
        format = str(manifest_doc["format"])
    use_images = bool(manifest_doc.get("images", True)) if images is None else images
    use_decode = bool(manifest_doc.get("decode", False)) if decode is None else decode

    loaded = _read_source(source, path, format)
    notes = ([manifest_note] if manifest_note else []) + loaded.notes
    ctx = CheckContext(
        loaded.ds,
        format=loaded.fmt,
        thresholds=settings["thresholds"],
        images=use_images,
        decode=use_decode,
        manifest=manifest_doc or None,
        base=loaded.base,
        reader_codes=frozenset(f.code for f in loaded.findings),
    )
    findings, skipped = _findings(ctx, loaded, path, settings)
    if not use_images:
        notes.append("image files not opened (--no-images): missing, corrupt and duplicate images not checked")

    report = Report(
        findings=findings,
        checks=_check_rows(findings, skipped, settings["severity"]),
        summary={},
        path=None if path is None else str(path),
        format=loaded.fmt,
        notes=notes,
        base=loaded.base,
    )
    if diff is not None:
        report.diff = _diff(diff, loaded.ds, path, loaded.fmt)
    report.summary = _summary(loaded.ds, time.perf_counter() - started)
    return report


# -- reading and running ---------------------------------------------------------------------------


@dataclass
class _Loaded:
    """The dataset under validation, and what its reader said about it.

    Attributes:
        ds: the dataset; fmt: its format name (None for an in-memory dataset of unknown format).
        base: the folder finding paths are relative to.
        notes: the reader's notes; findings: its findings (files relative to `base`) and the
            schema findings of its metadata documents.
        image_sources, annotation_sources: the reader's provenance tables (None in memory).
        documents: the metadata documents the format declares.
    """

    ds: Dataset
    fmt: str | None
    base: Path | None
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    image_sources: pd.DataFrame | None = None
    annotation_sources: pd.DataFrame | None = None
    documents: list[Document] = field(default_factory=list)


def _read_source(source: str | Path | Dataset, path: Path | None, format: str) -> _Loaded:
    """`source` as a `_Loaded`: an in-memory dataset as is, a path read with provenance and findings."""
    if path is None:
        ds: Dataset = source  # type: ignore[assignment]
        return _Loaded(ds, None if format == "auto" else format, ds.root)
    result = _load(path, format)
    base = path if path.is_dir() else path.parent
    extra = [_with_file(f, _relative(Path(f.file), base)) if f.file else f for f in result.findings]
    documents = _documents(path, result)
    # the reader already names a record it skipped: its finding says more than the schema's
    seen = {(f.file, f.record) for f in extra}
    extra += [f for f in _document_findings(documents, base) if (f.file, f.record) not in seen]
    return _Loaded(
        result.dataset,
        result.format,
        base,
        list(result.notes),
        extra,
        result.image_sources,
        result.annotation_sources,
        documents,
    )


def _findings(
    ctx: CheckContext, loaded: _Loaded, path: Path | None, settings: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Run every selected check, add the reader's findings, locate, filter, grade and sort them.

    Returns:
        The findings table, and ``code -> reason`` for each check skipped.
    """
    selected = settings["selected"]
    frames, skipped = [], {}
    for code, rule in CHECKS.items():
        reason = _skip_reason(rule, ctx, code in selected)
        if reason:
            skipped[code] = reason
        elif rule.func is not None:
            frames.append(rule.func(ctx))
    n_checked = sum(len(f) for f in frames)
    frames.append(_frame_of(loaded.findings))
    findings = pd.concat([f for f in frames if len(f)] or [empty_findings()], ignore_index=True)
    findings = _locate(findings, ctx, loaded.image_sources, loaded.annotation_sources, path, loaded.documents)
    findings = _drop_repeats(findings, n_checked)
    findings = findings[[_selected(c, selected) for c in findings["code"]]] if len(findings) else findings
    findings = _apply_severity(findings, settings["severity"])
    return _sort(findings), skipped


# -- settings -------------------------------------------------------------------------------------


def _manifest(manifest: str | Path | dict[str, Any] | bool | None, path: Path | None) -> tuple[dict[str, Any], str]:
    from dataprep.validation import schema

    if manifest is False:
        return {}, ""
    if isinstance(manifest, dict):
        found = schema.document_findings(manifest, "manifest", path="<manifest>", limit=1)
        if found:
            raise UsageError(f"manifest: {found[0].record}: {found[0].message}")
        return manifest, ""
    if manifest is None or manifest is True:
        found_path = schema.find_manifest(path) if path is not None else None
        if found_path is None:
            if manifest is True:
                raise InputError(path, "no dataprep.yaml, dataprep.yml or dataprep.json found", hint="Write one")
            return {}, ""
        return schema.read_manifest(found_path), f"manifest: {found_path}"
    p = Path(manifest)
    if not p.is_file():
        raise InputError(p, "manifest file not found", hint="Check the --manifest path")
    return schema.read_manifest(p), f"manifest: {p}"


def _expand(codes: Iterable[str] | None, what: str) -> set[str] | None:
    """Codes and prefixes -> the set of known codes they name (None stays None)."""
    if codes is None:
        return None
    out: set[str] = set()
    for raw in codes:
        for item in str(raw).split(","):
            code = item.strip()
            if not code:
                continue
            if code.upper() == "ALL":
                out |= set(CHECKS)
                continue
            matched = {c for c in CHECKS if c == code or c.startswith(code + "-")}
            if not matched:
                raise UsageError(f"{what}: unknown check code {code!r}. Known codes: {', '.join(sorted(CHECKS))}")
            out |= matched
    return out


def _settings(
    manifest: dict[str, Any],
    *,
    select: Iterable[str] | None,
    ignore: Iterable[str] | None,
    severity: dict[str, str] | None,
    thresholds: Thresholds | dict[str, float] | None,
) -> dict[str, Any]:
    chosen = _expand(select, "select") if select is not None else _expand(manifest.get("select"), "manifest select")
    ignored = (_expand(manifest.get("ignore"), "manifest ignore") or set()) | (_expand(ignore, "ignore") or set())
    selected = (set(CHECKS) if chosen is None else chosen) - ignored
    levels: dict[str, Severity] = {}
    for source_name, overrides in (("manifest severity", manifest.get("severity")), ("severity", severity)):
        for code, level in (overrides or {}).items():
            try:
                sev = Severity(str(level).lower())
            except ValueError:
                raise UsageError(f"{source_name}: {code}={level!r}; choose error, warning or info") from None
            for c in _expand([code], source_name) or ():
                levels[c] = sev
    merged = dict(manifest.get("thresholds") or {})
    if isinstance(thresholds, Thresholds):
        limits = thresholds
    else:
        merged.update(thresholds or {})
        try:
            limits = Thresholds.from_mapping(merged)
        except (TypeError, ValueError) as err:
            raise UsageError(f"thresholds: {err}") from None
    return {"selected": selected, "severity": levels, "thresholds": limits}


def _selected(code: str, selected: set[str]) -> bool:
    # Reader codes not in the registry (a format's own) are kept unless everything else is filtered.
    return code in selected or (code not in CHECKS and "unreadable-input" in selected)


def _skip_reason(rule: Check, ctx: CheckContext, selected: bool) -> str | None:
    if not selected:
        return "not selected (--select/--ignore)"
    if rule.needs_images and not ctx.images:
        return "image files not opened (--no-images)"
    if rule.code == "image-corrupt" and not ctx.decode:
        return "needs a full decode (--decode)"
    if rule.needs_manifest and not ctx.manifest:
        return "no manifest"
    if rule.format_specific and not ctx.applies(rule.code):
        return f"applies to {', '.join(formats_applying(rule.code))} input only"
    return None


# -- reading --------------------------------------------------------------------------------------


def _load(path: Path, format: str) -> Any:
    from dataprep import formats

    # every reader takes provenance (the reader contract in formats/base.py)
    return formats.load(path, format, on_error="collect", provenance=True)


def _documents(path: Path, result: Any) -> list[Document]:
    """The dataset's metadata documents, from its format's hooks (a manifest is checked on its own)."""
    from dataprep.validation import schema

    hooks = format_hooks(result.format)
    if hooks is None or hooks.documents is None:
        return []
    found = hooks.documents(path, result)
    return [d for d in found if d.path.name not in schema.MANIFEST_NAMES or d.path == path]


def _document_findings(documents: list[Document], base: Path) -> list[Finding]:
    """``schema-violation`` findings of the dataset's metadata documents, paths relative to `base`."""
    from dataprep.validation import schema

    out: list[Finding] = []
    for doc in documents:
        out += schema.check_document(doc.path, doc.schema, display=_relative(doc.path, base))
    return out


def _relative(file: Path, base: Path) -> str:
    """`file` (absolute, or relative to the working directory) relative to `base` when below it."""
    try:
        return file.absolute().relative_to(base.absolute()).as_posix()
    except ValueError:
        return file.as_posix()


def _with_file(f: Finding, file: str) -> Finding:
    from dataclasses import replace

    return replace(f, file=file)


def _frame_of(findings: list[Finding]) -> pd.DataFrame:
    if not findings:
        return empty_findings()
    rows = [f.to_dict() for f in findings]
    frame = pd.DataFrame.from_records(rows, columns=FINDING_COLUMNS)
    for col in ("image_id", "annotation_id", "line"):
        frame[col] = frame[col].astype("Int64")
    for col in ("message", "file", "record", "hint"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


# -- locations ------------------------------------------------------------------------------------


def _locate(
    findings: pd.DataFrame,
    ctx: CheckContext,
    image_sources: pd.DataFrame | None,
    annotation_sources: pd.DataFrame | None,
    path: Path | None,
    documents: list[Document],
) -> pd.DataFrame:
    """Fill ``file``/``line``/``record`` of findings that name only ids.

    From the reader's provenance when it kept any; otherwise derived from the format's layout
    by its `ValidationHooks.locate` (an in-memory Dataset validated as a format).
    """
    if not len(findings):
        return findings
    derive = _deriver(ctx, path, documents)
    out = findings.copy()
    need = out["file"].isna().to_numpy() & out["record"].isna().to_numpy()
    ann = need & out["annotation_id"].notna().to_numpy()
    if ann.any():
        ids = out.loc[ann, "annotation_id"].to_numpy(dtype=np.int64)
        if annotation_sources is not None and len(annotation_sources):
            src = annotation_sources.reindex(ids)
            for col in ("file", "record", "line"):
                if col in src:
                    values = src[col].to_numpy()
                    if col == "line":
                        out.loc[ann, col] = pd.array(values, dtype="Int64")
                    else:
                        out.loc[ann, col] = [None if pd.isna(v) else str(v) for v in values]
        else:
            file, record = derive(ids, "annotation")
            out.loc[ann, "file"] = file
            out.loc[ann, "record"] = record
    img = out["file"].isna().to_numpy() & out["image_id"].notna().to_numpy() & out["annotation_id"].isna().to_numpy()
    img &= out["record"].isna().to_numpy()
    if img.any():
        ids = out.loc[img, "image_id"].to_numpy(dtype=np.int64)
        if image_sources is not None and len(image_sources) and "file" in image_sources:
            files = image_sources["file"].reindex(ids).to_numpy()
            out.loc[img, "file"] = [None if pd.isna(v) else str(v) for v in files]
        else:
            files, records = derive(ids, "image")
            out.loc[img, "file"] = files
            if any(r is not None for r in records):
                out.loc[img, "record"] = records
        # an image with no label file to point at (YOLO negatives): point at the image itself
        still = img & out["file"].isna().to_numpy()
        if still.any():
            still_ids = out.loc[still, "image_id"].to_numpy(dtype=np.int64)
            names = ctx.ds.images["file_name"].astype(object).reindex(still_ids)
            out.loc[still, "file"] = [None if pd.isna(n) else ctx.display_path(n) for n in names]
    # rows that still have no file: dataset-level findings of a single label file point at it
    if path is not None and path.is_file():
        out.loc[out["file"].isna().to_numpy(), "file"] = path.name
    return out


def _drop_repeats(findings: pd.DataFrame, n_checked: int) -> pd.DataFrame:
    """Drop check findings that repeat a reader finding (same code, file, record and line).

    Readers that open images report an unreadable one themselves; the reader's finding wins.
    """
    if not n_checked or n_checked == len(findings):
        return findings
    key = findings[["code", "file", "record", "line"]].astype(object)
    key = key.where(key.notna(), "")
    rows = key.astype(str).agg("\x1f".join, axis=1)
    from_reader = set(rows.iloc[n_checked:])
    repeat = rows.isin(from_reader).to_numpy() & (np.arange(len(findings)) < n_checked)
    return findings[~repeat].reset_index(drop=True) if repeat.any() else findings


def _deriver(ctx: CheckContext, path: Path | None, documents: list[Document]) -> Any:
    """``(ids, unit) -> (files, records)`` from the format's `locate` hook (Nones without one)."""
    from dataprep.formats.base import Locating

    hooks = format_hooks(ctx.format)
    where = Locating(path, tuple(d.path for d in documents), ctx.display_path)

    def derive(ids: np.ndarray, unit: str) -> tuple[list[str | None], list[str | None]]:
        if hooks is None or hooks.locate is None:
            return [None] * len(ids), [None] * len(ids)
        return hooks.locate(ctx.ds, ids, unit, where)

    return derive


# -- severity, order, checks table, summary -------------------------------------------------------


def _apply_severity(findings: pd.DataFrame, levels: dict[str, Severity]) -> pd.DataFrame:
    if not levels or not len(findings):
        return findings
    out = findings.copy()
    mapped = out["code"].map({c: str(s) for c, s in levels.items()})
    out["severity"] = mapped.where(mapped.notna(), out["severity"])
    return out


def _sort(findings: pd.DataFrame) -> pd.DataFrame:
    if not len(findings):
        return findings
    keys = pd.DataFrame(
        {
            "sev": findings["severity"].map(SEVERITY_ORDER).fillna(3).to_numpy(),
            "code": findings["code"].to_numpy(),
            "file": findings["file"].fillna("").astype(str).to_numpy(),
            "line": findings["line"].fillna(0).to_numpy(dtype=np.int64),
            "image": findings["image_id"].fillna(0).to_numpy(dtype=np.int64),
            "ann": findings["annotation_id"].fillna(0).to_numpy(dtype=np.int64),
        }
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index.to_numpy()
    return findings.iloc[order].reset_index(drop=True)


def _check_rows(findings: pd.DataFrame, skipped: dict[str, str], levels: dict[str, Severity]) -> list[dict[str, Any]]:
    counts = findings["code"].value_counts()
    rows = []
    codes = list(CHECKS) + sorted(set(counts.index) - set(CHECKS))
    for code in codes:
        rule = CHECKS.get(code)
        severity = str(levels.get(code, rule.severity if rule else Severity.ERROR))
        if code not in CHECKS:  # a reader's own code
            sev = findings.loc[findings["code"] == code, "severity"]
            severity = str(sev.iloc[0]) if len(sev) else severity
        n = int(counts.get(code, 0))
        reason = skipped.get(code)
        rows.append(
            {
                "code": code,
                "severity": severity,
                "status": "skipped" if reason and not n else ("failed" if n else "passed"),
                "count": n,
                "description": rule.description if rule else "reported by the reader",
                "skip_reason": reason if reason and not n else None,
            }
        )
    return rows


def _summary(ds: Dataset, seconds: float) -> dict[str, Any]:
    hist = class_histogram(ds)
    used = hist.loc[hist["annotations"] > 0, "annotations"]
    ratio = float(used.max() / used.min()) if len(used) else None
    splits = ds.images["split"].astype(object).value_counts()
    return {
        "images": len(ds.images),
        "annotations": len(ds.annotations),
        "categories": len(ds.categories),
        "images_without_labels": int((~ds.images.index.isin(ds.annotations["image_id"].unique())).sum()),
        "splits": {str(k): int(v) for k, v in splits.items()},
        "classes": [
            {"category_id": int(i), "name": str(r.name), "annotations": int(r.annotations), "images": int(r.images)}
            for i, r in zip(hist.index, hist.itertuples(index=False), strict=True)
        ],
        "imbalance_ratio": ratio,
        "seconds": round(seconds, 4),
    }


def _diff(base: str | Path | Dataset, head: Dataset, path: Path | None, fmt: str | None) -> dict[str, Any]:
    from dataprep import formats
    from dataprep.validation import diff as diffs

    if isinstance(base, Dataset):
        return diffs.diff_datasets(base, head, base_label="<dataset>")
    label = str(base)
    base_path = Path(base)
    if base_path.exists():
        base_ds = formats.load(base_path, fmt or "auto", on_error="collect").dataset
        return diffs.diff_datasets(base_ds, head, base_label=label)
    if path is None:
        raise UsageError(f"--diff {label}: not a folder, and a git revision needs a dataset path")
    with diffs.temporary_folder() as tmp:
        old = diffs.checkout_revision(path, label, tmp)
        base_ds = formats.load(old, fmt or "auto", on_error="collect").dataset
        return diffs.diff_datasets(base_ds, head, base_label=label)
