"""Label formats: the registry and the format-independent read/write/convert entry points.

`FORMATS` is the only registry: adding a format is one module exporting ``FORMAT`` plus one
entry here. Format modules import only numpy/pandas at module level, so ``dataprep convert``
starts fast; Pillow, pycocotools and yaml are imported where they are needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep._gc import gc_paused
from dataprep.dataset import Dataset
from dataprep.errors import InputError, OutputError, UsageError
from dataprep.files import (
    IMAGE_MODES,
    atomic_output_dir,
    clean_members,
    output_refused,
    outside_root,
    unsafe_member_mask,
)
from dataprep.formats import coco, cvat, folders, label_studio, labelme, labels_csv, voc, yolo
from dataprep.formats._numbers import drop_unwritable, unwritable
from dataprep.formats.base import (
    MAX_EXAMPLES,
    SPLIT_ALIASES,
    Capabilities,
    FormatSpec,
    Loss,
    OnError,
    ReadResult,
    WriteReport,
    plan_losses,
)

FORMATS: dict[str, FormatSpec] = {
    "coco": coco.FORMAT,
    "voc": voc.FORMAT,
    "yolo": yolo.FORMAT,
    "folders": folders.FORMAT,
    "csv": labels_csv.FORMAT,
    "labelme": labelme.FORMAT,
    "cvat": cvat.FORMAT,
    "label-studio": label_studio.FORMAT,
}

__all__ = [
    "FORMATS",
    "Capabilities",
    "ConvertResult",
    "FormatSpec",
    "Loss",
    "ReadResult",
    "WriteReport",
    "convert",
    "detect",
    "get_format",
    "load",
    "plan",
    "read",
    "write",
]


def get_format(name: str) -> FormatSpec:
    """The registered format called `name`.

    Raises:
        UsageError: no such format.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None


def detect(path: str | Path) -> list[tuple[str, float]]:
    """Formats that `path` looks like, as ``(name, confidence)`` pairs, most likely first."""
    p = Path(path)
    found = []
    for name, spec in FORMATS.items():
        confidence = spec.detect(p)
        if confidence:
            found.append((name, float(confidence)))
    return sorted(found, key=lambda item: -item[1])


_MAX_SUBFOLDERS = 16  # folders with more sub-folders (class folders, images) are not looked into
# folders that are parts of one dataset's layout, never datasets of their own
_LAYOUT_FOLDERS = frozenset(
    {"images", "labels", "annotations", "jpegimages", "imagesets", "segmentationclass", "segmentationobject", "data"}
)


def _refuse_non_datasets(path: Path) -> None:
    """Say what a path is when it is not one dataset (issue 7, item 20).

    Raises:
        InputError: a COCO results file (a json list of detections: `dataprep evaluate` reads
            it), or a folder whose sub-folders are datasets of different formats
            (``samples/detection``): naming them.
    """
    if path.is_file() and path.suffix.lower() == ".json":
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] == b"[" and (b'"score"' in head or b'"image_id"' in head or head[1:].lstrip()[:1] == b"]"):
            raise InputError(
                path,
                "a COCO results file (a list of detections), not a labelled dataset",
                hint=f"Score it against its ground truth: dataprep evaluate GROUND_TRUTH {path}",
            )
        return
    if not path.is_dir():
        return
    try:
        subs = sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return
    subs = [d for d in subs if d.lower() not in SPLIT_ALIASES and d.lower() not in _LAYOUT_FOLDERS]
    if not 2 <= len(subs) <= _MAX_SUBFOLDERS:
        return
    kinds = {d: found[0][0] for d in subs if (found := detect(path / d)) and found[0][1] >= 0.5}
    if len(set(kinds.values())) >= 2:
        listed = ", ".join(f"{d}/ ({k})" for d, k in kinds.items())
        raise InputError(
            path,
            f"holds several datasets: {listed}",
            hint=f"Pass one of them, e.g. {path / next(iter(kinds))}",
        )


def _resolve_format(path: Path, format: str) -> str:
    if format != "auto":
        get_format(format)
        return format
    _refuse_non_datasets(path)
    found = detect(path)
    if not found:
        raise InputError(
            path,
            "no known label format found",
            hint=f"Pass the format explicitly (--from {'|'.join(FORMATS)}) or check the path",
        )
    best = [name for name, conf in found if conf == found[0][1]]
    if len(best) > 1:
        raise InputError(
            path,
            f"matches {' and '.join(best)} equally well",
            hint=f"Pass --from {best[0]} (or --from {best[1]}) to choose",
        )
    return best[0]


def load(path: str | Path, format: str = "auto", *, on_error: OnError = "raise", **options: Any) -> ReadResult:
    """Read a dataset and also return the problems met and the guesses made.

    Args:
        path: a dataset folder, or a single label file where the format has one (COCO json).
        format: a name from `FORMATS`, or ``"auto"`` to detect it.
        on_error: ``"raise"`` stops at the first unparseable record; ``"collect"`` skips it
            and returns it as a finding.
        **options: format-specific reader options.

    Raises:
        InputError: the path is missing, the format cannot be told, or a record is unparseable.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or directory", hint="Check the path")
    if on_error not in ("raise", "collect"):
        raise UsageError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    name = _resolve_format(p, format)
    with gc_paused():
        result = FORMATS[name].read(p, on_error=on_error, **options)
        _check_file_names(result, p, on_error)
    if format == "auto":
        result.notes.insert(0, f"detected format: {name}")
    return result


def _check_file_names(result: ReadResult, path: Path, on_error: OnError) -> None:
    """Refuse image file names that could escape the dataset folder (``..``, absolute, drive)."""
    images = result.dataset.images
    bad = unsafe_member_mask(images["file_name"])
    if not bad.any():
        return
    errors = [
        InputError(
            path,
            f"unsafe image file name {name!r}",
            record=f"image {image_id}",
            hint="File names must be relative paths inside the dataset, without '..' or a drive",
        )
        for image_id, name in images.loc[bad, "file_name"].items()
    ]
    if on_error == "raise":
        raise errors[0]
    result.findings.extend(err.to_finding("unsafe-file-name") for err in errors)
    # collected means out of the output: a writer never sees the name (issue 7, item 10)
    result.dataset = result.dataset.select_images(~bad)
    result.notes.append(f"{int(bad.sum()):,} images with unsafe file names skipped (listed as unsafe-file-name)")


def read(path: str | Path, format: str = "auto", **options: Any) -> Dataset:
    """Read a dataset in any registered format (``format="auto"`` detects it).

    Raises:
        InputError: the path is missing, the format cannot be told, or a record is unparseable.
    """
    return load(path, format, **options).dataset


def plan(ds: Dataset, format: str, **options: Any) -> list[Loss]:
    """What writing `ds` as `format` would drop or change, without writing anything."""
    spec = get_format(format)
    if spec.plan is not None:
        return spec.plan(ds, **options)
    return plan_losses(ds, spec.capabilities, format_name=spec.name)


def write(
    ds: Dataset,
    path: str | Path,
    format: str,
    *,
    images: str = "copy",
    overwrite: bool = False,
    **options: Any,
) -> WriteReport:
    """Write `ds` as `format` into the folder `path`, atomically.

    The output is built in a temporary sibling folder and renamed into place, so `path` is
    either untouched or complete. Losses (what the format cannot hold) are in the report.

    Args:
        images: ``"copy"``, ``"link"`` (hard link, copy across devices) or ``"none"``.
        overwrite: replace an existing `path`.
        **options: format-specific writer options (e.g. ``layout="darknet"`` for YOLO).

    Raises:
        InputError: a record no format can hold: a non-finite or overflowing coordinate, an image
            size outside 1..2**31-1 (`_numbers.unwritable`).
        OutputError: `path` exists without `overwrite`, or would replace the dataset's own images.
        UsageError: unknown format, images mode or option.
    """
    spec = get_format(format)
    if images not in IMAGE_MODES:
        raise UsageError(f"unknown images mode {images!r}; choose one of {', '.join(IMAGE_MODES)}")
    out = Path(path)
    if ds.root is not None and out.exists():
        root, target = ds.root.resolve(), out.resolve()
        if root == target or target in root.parents:
            raise OutputError(
                f"{out}: refusing to replace the folder the input dataset lives in. Choose another output."
            )
    bad = unwritable(ds)[2]
    if bad:
        raise bad[0]
    losses = plan(ds, format, **options)
    with atomic_output_dir(out, overwrite=overwrite) as tmp, gc_paused():
        try:
            report = spec.write(ds, tmp, images=images, **options)
        except OutputError as err:  # name the destination, not the temporary folder it is built in
            message = str(err).replace(str(tmp), str(out))
            raise OutputError(message if message != str(err) else f"{out}: {err}") from None
    report.path = str(out)
    report.losses = losses + report.losses
    return report


def _skip_outside_images(ds: Dataset) -> tuple[Dataset, Loss | None]:
    """`ds` without the images whose files really live outside `ds.root`, and the loss saying so.

    Issue 7, item 1: ``images/val/etc -> /etc`` with ``file_name: etc/passwd`` copied the system
    file into the output. The image and its annotations are left out, counted and listed.
    """
    if ds.root is None or not len(ds.images):
        return ds, None
    clean, unsafe = clean_members(ds.images["file_name"])  # unsafe names: the writer refuses them itself
    away = outside_root(ds.root, clean.tolist()) & ~unsafe
    if not away.any():
        return ds, None
    ids = ds.images.index[away]
    loss = Loss(
        code="image-outside-dataset",
        message=f"image files whose real path leaves {ds.root} (symlinks) were left out with their annotations; "
        "pass --follow-symlinks to copy them",
        count=len(ids),
        examples=[int(i) for i in ids[:MAX_EXAMPLES]],
        unit="image",
    )
    return ds.select_images(~away), loss


@dataclass
class ConvertResult:
    """The outcome of `convert`: what was read (with notes and findings) and what was written."""

    source: ReadResult
    written: WriteReport
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "source_format": self.source.format,
            "notes": self.source.notes + self.notes,
            "findings": [f.to_dict() for f in self.source.findings],
            "written": self.written.to_dict(),
        }


def convert(
    src: str | Path,
    dst: str | Path,
    *,
    to: str,
    from_format: str = "auto",
    images: str = "copy",
    overwrite: bool = False,
    on_error: OnError = "raise",
    follow_symlinks: bool = False,
    read_options: dict[str, Any] | None = None,
    write_options: dict[str, Any] | None = None,
) -> ConvertResult:
    """Read `src` and write it to `dst` as format `to`, reporting everything dropped.

    Image files whose real path leaves the input root (symlinks) are left out with their
    annotations, as an ``image-outside-dataset`` loss, unless `follow_symlinks`.

    Raises:
        InputError: `src` cannot be read.
        OutputError: `dst` exists without `overwrite`, is (or contains) `src`, or lies inside the
            folder `src` (the next read of `src` would see the output as data).
    """
    get_format(to)
    _check_destination(Path(src), Path(dst))
    source = load(src, from_format, on_error=on_error, **(read_options or {}))
    _skip_unwritable(source, on_error, Path(src))
    errors = [f for f in source.findings if f.severity == "error"]
    if errors and on_error == "collect" and not (len(source.dataset.images) and len(source.dataset.annotations)):
        # collect skips records; it never turns a dataset into an empty "success" (no images, or
        # images whose every label was skipped: darknet labels whose images are missing)
        what = "record" if not len(source.dataset.images) else "label"
        raise InputError(
            src,
            f"every {what} was skipped ({len(errors):,} problems; the first: {errors[0].message})",
            hint="Run `dataprep validate` on it to list them all",
        )
    dataset, outside = (
        (source.dataset, None) if follow_symlinks or images == "none" else _skip_outside_images(source.dataset)
    )
    written = write(dataset, dst, to, images=images, overwrite=overwrite, **(write_options or {}))
    written.losses += [outside] if outside else []
    return ConvertResult(source, written)


def _check_destination(src: Path, dst: Path) -> None:
    """Refuse a `dst` that is `src`, contains it, or lies inside the folder `src`.

    Raises:
        OutputError: as above (issue 7: ``convert yin yin/images/train/copy`` doubled the input).
    """
    src_p, dst_p = src.resolve(), dst.resolve()
    if src_p == dst_p or dst_p in src_p.parents:
        raise output_refused(dst, f"output would replace the input {src}. Choose another output folder.")
    if src_p.is_dir() and src_p in dst_p.parents:
        raise output_refused(
            dst,
            f"output inside the input folder {src}: the next read of it would see the output as data. "
            "Choose a folder outside it.",
        )


def _skip_unwritable(source: ReadResult, on_error: OnError, path: Path) -> None:
    """Refuse (or, collecting, skip and list) records no writer may write (`_numbers.unwritable`).

    Raises:
        InputError: the first such record, unless `on_error` is ``"collect"``.
    """
    dataset, errors, dropped = drop_unwritable(source.dataset, path=path)
    if not dropped:
        return
    if on_error == "raise":
        raise errors[0]
    source.dataset = dataset
    source.findings.extend(err.to_finding("invalid-record") for err in errors)
    source.notes.append(f"{dropped:,} records with non-finite, overflowing or impossible numbers skipped")
