"""What the annotation-tool readers (LabelMe, CVAT, Label Studio) share: the raise-or-collect
policy, the columns they collect per object, and the steps from those columns to tables.

Each reader keeps its own layout, parsing and categories; here are only the steps that are the
same for the three: a file's first bytes for detection, refusing XML with DOCTYPE/ENTITY
declarations, the sizes read from image headers, the images and annotations tables, and the
provenance of a read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError, UsageError
from dataprep.files import probe_image
from dataprep.formats.base import OnError, ReadResult

__all__ = [
    "Collector",
    "ObjectRows",
    "annotations_table",
    "check_options",
    "finish_read",
    "images_table",
    "parse_rows",
    "probe_sizes",
    "read_head",
    "refuse_unsafe_xml",
    "set_provenance",
]

_NAN4 = (math.nan,) * 4
RowsT = TypeVar("RowsT", bound="ObjectRows")

_UNSAFE_MARKERS = tuple(
    marker.encode(enc) for marker in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-8", "utf-16-le", "utf-16-be")
)


class Collector:
    """Raise-or-collect policy for one read."""

    def __init__(self, on_error: OnError) -> None:
        self.on_error = on_error
        self.findings: list[Finding] = []

    def report(self, err: InputError, code: str = "unreadable-input") -> None:
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


@dataclass
class ObjectRows:
    """Columns collected while parsing, one entry per image / per object (each reader adds its own).

    ``deferred_rows`` are the objects whose boxes one numpy pass computes at the end (the
    reader's ``resolve_deferred``), into ``deferred_xyxy`` ``(N, 4)``.
    """

    file_name: list[str] = field(default_factory=list)
    width: list[int | None] = field(default_factory=list)
    height: list[int | None] = field(default_factory=list)
    image: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    xyxy: list[tuple[float, ...]] = field(default_factory=list)
    segmentation: list[Any] = field(default_factory=list)
    attributes: list[dict[str, Any] | None] = field(default_factory=list)
    record: list[str] = field(default_factory=list)
    deferred_rows: list[int] = field(default_factory=list)
    deferred_xyxy: np.ndarray | None = None

    def add(self, image: int, label: str, xyxy: Any, seg: Any, attrs: dict[str, Any] | None, record: str) -> None:
        """One object: its image's index (0-based), label, xyxy pixels, segmentation, attributes, record."""
        self.image.append(image)
        self.label.append(label)
        self.xyxy.append(xyxy)
        self.segmentation.append(seg)
        self.attributes.append(attrs)
        self.record.append(record)

    def add_deferred(self, image: int, label: str, record: str) -> None:
        """One object whose box `resolve_deferred` computes (NaN until then); the caller queues its values."""
        self.deferred_rows.append(len(self.image))
        self.add(image, label, _NAN4, None, None, record)


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of `path` (fewer for a short file; ``b""`` when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def refuse_unsafe_xml(data: bytes, path: str, hint: str) -> None:
    """Refuse XML that declares a DOCTYPE or ENTITY (entity expansion, external entities).

    Raises:
        InputError: a declaration was found (`hint` says how to fix it).
    """
    if (b"\x00" in data[:4] or b"<!" in data) and any(m in data for m in _UNSAFE_MARKERS):
        raise InputError(
            path, "XML with a DOCTYPE or ENTITY declaration refused (entity expansion, external entities)", hint=hint
        )


def probe_sizes(root: Path, rows: ObjectRows, todo: list[int], notes: list[str]) -> tuple[list[Any], list[Any]]:
    """Widths and heights of `rows`, those of images `todo` (indices) read from the image files' headers.

    An image whose header cannot be read keeps its size; the count read is noted.
    """
    widths, heights = list(rows.width), list(rows.height)
    probed = 0
    for k in todo:
        try:
            header = probe_image(root / rows.file_name[k])
        except InputError:
            continue
        widths[k], heights[k] = header.width, header.height
        probed += 1
    if probed:
        notes.append(f"read {probed} image sizes from image headers")
    return widths, heights


def images_table(file_names: list[str], widths: list[Any], heights: list[Any], **extra: Any) -> pd.DataFrame:
    """The images table: ``image_id`` 1..N, ``file_name``, nullable ``width``/``height``, then `extra` columns."""
    return pd.DataFrame(
        {
            "image_id": np.arange(1, len(file_names) + 1, dtype=np.int64),
            "file_name": pd.array(file_names, dtype="str"),
            "width": pd.array(widths, dtype="Int64"),
            "height": pd.array(heights, dtype="Int64"),
            **extra,
        }
    )


def annotations_table(rows: ObjectRows, cat_index: pd.Series) -> pd.DataFrame:
    """The annotations table of `rows` (ids 1..M, image ids 1-based); `cat_index` maps label -> category id."""
    n = len(rows.image)
    xyxy = np.array(rows.xyxy, dtype=np.float64).reshape(n, 4)
    if rows.deferred_xyxy is not None:
        xyxy[rows.deferred_rows] = rows.deferred_xyxy
    return pd.DataFrame(
        {
            "annotation_id": np.arange(1, n + 1, dtype=np.int64),
            "image_id": np.array(rows.image, dtype=np.int64) + 1,
            "category_id": cat_index.reindex(rows.label).to_numpy(dtype=np.int64),
            "x_min": xyxy[:, 0],
            "y_min": xyxy[:, 1],
            "x_max": xyxy[:, 2],
            "y_max": xyxy[:, 3],
            "segmentation": pd.Series(rows.segmentation, dtype=object),
            "attributes": pd.Series(rows.attributes, dtype=object),
        }
    )


def set_provenance(result: ReadResult, rows: ObjectRows, image_files: list[str]) -> None:
    """Set `result`'s image and annotation sources: the file each image came from (`image_files`), no lines."""
    result.image_sources = pd.DataFrame({"file": pd.array(image_files, dtype="str")}, index=result.dataset.images.index)
    result.annotation_sources = pd.DataFrame(
        {
            "file": [image_files[i] for i in rows.image],
            "line": pd.array([pd.NA] * len(rows.image), dtype="Int64"),
            "record": rows.record,
        },
        index=pd.Index(np.arange(1, len(rows.image) + 1, dtype=np.int64), name="annotation_id"),
    )


def check_options(reader: str, options: dict[str, Any]) -> None:
    """Refuse options a reader does not know.

    Raises:
        UsageError: `options` is not empty.
    """
    if options:
        raise UsageError(f"{reader} reader: unknown option(s) {', '.join(sorted(options))}")


def parse_rows(
    parse: Callable[[Collector, bool], RowsT], resolve: Callable[[RowsT], bool], on_error: OnError
) -> tuple[RowsT, Collector]:
    """Rows from ``parse(collector, defer)``: the queued objects resolved in one pass (`resolve`).

    When `resolve` says a queued object is malformed, everything is parsed again object by object
    (``defer=False``), with a fresh collector, so that the error names the object.
    """
    collector = Collector(on_error)
    rows = parse(collector, True)
    if not resolve(rows):
        collector = Collector(on_error)
        rows = parse(collector, False)
    return rows, collector


def finish_read(
    format_name: str,
    root: Path,
    notes: list[str],
    collector: Collector,
    rows: ObjectRows,
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.Series],
    sources: list[str] | None,
) -> ReadResult:
    """The `ReadResult` of a read: `tables` are the images table, the categories and label -> id.

    `sources` (the file of each image) fills the provenance; ``None`` leaves it out.
    """
    images, categories, cat_index = tables
    ds = Dataset.from_frames(images, annotations_table(rows, cat_index), categories, root=root)
    result = ReadResult(ds, format_name, collector.findings, notes)
    if sources is not None:
        set_provenance(result, rows, sources)
    return result
