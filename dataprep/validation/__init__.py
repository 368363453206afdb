"""``validate``: read a dataset, run every selected check, and return a `Report`.

Reader problems (records that could not be parsed, collected rather than raised), schema
violations of metadata documents and the semantic checks of `checks.py` all become rows of
one findings table. Codes are stable and kebab-case; ``select``/``ignore`` take codes or
code prefixes (``box`` = every ``box-*`` code), like a linter's.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError, Severity, UsageError
from dataprep.validation.checks import (
    CHECKS,
    FINDING_COLUMNS,
    Check,
    CheckContext,
    Thresholds,
    class_histogram,
    empty_findings,
)
from dataprep.validation.report import SEVERITY_ORDER, Report

MANIFEST_JSON = ("dataprep.json",)
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
    notes = [manifest_note] if manifest_note else []
    settings = _settings(manifest_doc, select=select, ignore=ignore, severity=severity, thresholds=thresholds)
    if format == "auto" and manifest_doc.get("format"):
        format = str(manifest_doc["format"])
    use_images = bool(manifest_doc.get("images", True)) if images is None else images
    use_decode = bool(manifest_doc.get("decode", False)) if decode is None else decode

    extra: list[Finding] = []
    image_sources = annotation_sources = None
    coco_files: list[Path] = []
    if path is None:
        ds = source  # type: ignore[assignment]
        fmt = None if format == "auto" else format
        base = ds.root
    else:
        result = _load(path, format)
        ds, fmt = result.dataset, result.format
        notes += result.notes
        base = path if path.is_dir() else path.parent
        extra += [_with_file(f, _relative(Path(f.file), base)) if f.file else f for f in result.findings]
        image_sources, annotation_sources = result.image_sources, result.annotation_sources
        if fmt == "coco":
            coco_files = _coco_files(path, image_sources, annotation_sources, base)
        documents = _document_findings(path, fmt, coco_files, base)
        # the reader already names a record it skipped: its finding says more than the schema's
        seen = {(f.file, f.record) for f in extra}
        extra += [f for f in documents if (f.file, f.record) not in seen]

    ctx = CheckContext(
        ds,
        format=fmt,
        thresholds=settings["thresholds"],
        images=use_images,
        decode=use_decode,
        manifest=manifest_doc or None,
        base=base,
    )
    selected = settings["selected"]
    frames, skipped = [], {}
    for code, rule in CHECKS.items():
        reason = _skip_reason(rule, ctx, code in selected)
        if reason:
            skipped[code] = reason
        elif rule.func is not None:
            frames.append(rule.func(ctx))
    n_checked = sum(len(f) for f in frames)
    frames.append(_frame_of(extra))
    findings = pd.concat([f for f in frames if len(f)] or [empty_findings()], ignore_index=True)
    findings = _locate(findings, ctx, image_sources, annotation_sources, path, coco_files)
    findings = _drop_repeats(findings, n_checked)
    findings = findings[[_selected(c, selected) for c in findings["code"]]] if len(findings) else findings
    findings = _apply_severity(findings, settings["severity"])
    findings = _sort(findings)
    if not use_images:
        notes.append("image files not opened (--no-images): missing, corrupt and duplicate images not checked")

    report = Report(
        findings=findings,
        checks=_check_rows(findings, skipped, settings["severity"]),
        summary={},
        path=None if path is None else str(path),
        format=fmt,
        notes=notes,
        base=base,
    )
    if diff is not None:
        report.diff = _diff(diff, ds, path, fmt)
    report.summary = _summary(ds, time.perf_counter() - started)
    return report


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
    if rule.formats and ctx.format not in rule.formats:
        return f"applies to {', '.join(rule.formats)} input only"
    return None


# -- reading --------------------------------------------------------------------------------------


def _load(path: Path, format: str) -> Any:
    from dataprep import formats

    name = format
    if format == "auto":
        if not path.exists():
            raise InputError(path, "no such file or directory", hint="Check the path")
        found = formats.detect(path)
        name = found[0][0] if found else "auto"  # ties and misses: let load() say so
    options: dict[str, Any] = {}
    if name in formats.FORMATS:
        params = inspect.signature(formats.FORMATS[name].read).parameters
        if "provenance" in params:  # readers that keep per-record file/line/record
            options["provenance"] = True
    return formats.load(path, format, on_error="collect", **options)


def _document_findings(path: Path, fmt: str | None, coco_files: list[Path], base: Path) -> list[Finding]:
    """Schema findings for the metadata documents of the dataset at `path`."""
    from dataprep.validation import schema

    out: list[Finding] = []
    if fmt == "coco":
        for file in coco_files:
            out += schema.check_coco_file(file, display=_relative(file, base))
    elif fmt == "yolo":
        folder = path if path.is_dir() else path.parent
        for file in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            if file.name not in schema.MANIFEST_NAMES:
                found = schema.check_data_yaml(file)
                out += [_with_file(f, _relative(file, base)) for f in found]
    return out


def _coco_files(
    path: Path, image_sources: pd.DataFrame | None, annotation_sources: pd.DataFrame | None, base: Path
) -> list[Path]:
    """The COCO json files of a dataset: from the reader's provenance, else where COCO layouts keep them."""
    if path.is_file():
        return [path]
    names: set[str] = set()
    for frame in (image_sources, annotation_sources):
        if frame is not None and "file" in frame:
            names |= {str(f) for f in frame["file"].dropna().unique() if str(f).lower().endswith(".json")}
    if names:
        return sorted(base / n for n in names)
    # no recursive walk: a dataset folder can hold a million images
    patterns = ("*.json", "annotations/*.json", "*/_annotations.coco.json", "*/annotations/*.json")
    found = {p for pattern in patterns for p in path.glob(pattern) if p.name not in MANIFEST_JSON}
    return sorted(found)


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
    coco_files: list[Path],
) -> pd.DataFrame:
    """Fill ``file``/``line``/``record`` of findings that name only ids.

    From the reader's provenance when it kept any; otherwise derived from the format's layout
    (COCO: the json file; YOLO: ``labels/...<stem>.txt``; VOC: ``Annotations/<stem>.xml``).
    """
    if not len(findings):
        return findings
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
            file, record = _derived_annotation_location(ctx, ids, path, coco_files)
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
            out.loc[img, "file"] = _derived_label_files(ctx, ids, path, coco_files)
            if ctx.format == "coco":
                out.loc[img, "record"] = [f"images[id={int(i)}]" for i in ids]
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


def _derived_label_files(
    ctx: CheckContext, image_ids: np.ndarray, path: Path | None, coco_files: list[Path]
) -> list[str | None]:
    names = ctx.ds.images["file_name"].astype(object).reindex(image_ids)
    if ctx.format == "coco" and path is not None:
        return _coco_file_of(ctx, image_ids, path, coco_files)
    if ctx.format == "yolo":
        return [None if pd.isna(n) else _yolo_label(ctx.display_path(n)) for n in names]
    if ctx.format == "voc":
        return [None if pd.isna(n) else f"Annotations/{Path(n).stem}.xml" for n in names]
    return [None] * len(image_ids)


def _coco_file_of(ctx: CheckContext, image_ids: np.ndarray, path: Path, coco_files: list[Path]) -> list[str | None]:
    """The json file each image came from: the one file, or the one named after the image's split."""
    if path.is_file():
        return [path.name] * len(image_ids)
    files = [_relative(f, path) for f in coco_files]
    if len(files) == 1:
        return files * len(image_ids)
    by_split: dict[str, str] = {}
    for f in files:
        stem = Path(f).stem
        split = stem[len("instances_") :] if stem.startswith("instances_") else Path(f).parent.name
        by_split.setdefault(split, f)
    splits = ctx.ds.images["split"].astype(object).reindex(image_ids)
    return [by_split.get(s) if isinstance(s, str) else None for s in splits]


def _yolo_label(image_path: str) -> str:
    # Ultralytics' img2label_paths: the last /images/ becomes /labels/, the suffix .txt
    parts = image_path.split("/")
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        parts[i] = "labels"
    return str(Path("/".join(parts)).with_suffix(".txt").as_posix())


def _derived_annotation_location(
    ctx: CheckContext, annotation_ids: np.ndarray, path: Path | None, coco_files: list[Path]
) -> tuple[list[str | None], list[str | None]]:
    anns = ctx.ds.annotations
    image_ids = anns["image_id"].reindex(annotation_ids).to_numpy()
    files = _derived_label_files(ctx, image_ids, path, coco_files)
    if ctx.format == "voc":
        nth = anns.groupby("image_id", sort=False).cumcount().reindex(annotation_ids).to_numpy() + 1
        records: list[str | None] = [f"object[{int(k)}]" for k in nth]
    elif ctx.format == "coco":
        records = [f"annotations[id={int(i)}]" for i in annotation_ids]
    else:
        records = [None] * len(annotation_ids)
    return files, records


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
