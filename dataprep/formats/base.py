"""The plug-in contract every label format implements.

A format module exports ``FORMAT = FormatSpec(...)`` with:

- ``detect(path) -> float | None``: a cheap look at file names and the first record; a
  confidence in ``(0, 1]`` or None when the path is not this format.
- ``read(path, *, on_error="raise", provenance=False, **options) -> ReadResult``: parse; fail
  only on what cannot be parsed (``on_error="collect"`` turns per-record problems into findings
  and skips the record). Semantic problems are left for validation. Every reader accepts
  ``provenance``: True also fills `ReadResult.image_sources`/`annotation_sources` (file, line,
  record of each row); validation always asks for it.
- ``write(ds, out_dir, *, images="copy", **options) -> WriteReport``: write into `out_dir`,
  a fresh empty directory made by `dataprep.formats.write` (which handles atomicity and
  overwrite). It must report every loss (see `plan_losses`) rather than drop silently.
- ``validation=ValidationHooks(...)`` (optional): what `dataprep.validation` needs to know about
  the format beyond its tables (its metadata documents, where a finding lives when the reader
  kept no provenance, which format-specific checks apply), so validation names no format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding
from dataprep.files import transfer_files

OnError = Literal["raise", "collect"]
# annotations.attributes key of COCO annotation keys outside its schema (``keypoints``,
# ``num_keypoints``...): COCO writes them back at the annotation's top level
EXTRA_KEY = "__coco__"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Capabilities:
    """What a format can hold; `plan_losses` compares a dataset against it."""

    boxes: bool = True
    polygons: bool = False
    rle: bool = False
    crowd: bool = False
    scores: bool = False
    attributes: bool = False  # per-annotation attributes (VOC flags, CVAT attributes)
    image_attributes: bool = False  # per-image extras (COCO license, urls)
    image_level_labels: bool = False  # labels without a box (classification)
    float_coordinates: bool = True  # False: integer pixel coordinates only (VOC)
    keypoints: bool = False  # COCO keypoints (attributes[EXTRA_KEY]["keypoints"], from COCO or YOLO pose)
    splits: bool = True
    groups: bool = False
    info: bool = False  # dataset-level info/licenses
    supercategories: bool = False


_LossUnit = Literal["annotation", "image", "category", "dataset"]


@dataclass
class Loss:
    """Something a writer cannot hold: what, how many, and a few example ids."""

    code: str  # kebab-case, stable: "segmentation-to-box", "score-dropped", ...
    message: str
    count: int
    examples: list[int] = field(default_factory=list)
    unit: _LossUnit = "annotation"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class WriteReport:
    """What a writer wrote and what it could not hold."""

    format: str
    path: str
    images: int = 0
    annotations: int = 0
    categories: int = 0
    images_transferred: int = 0  # image files copied or linked
    images_missing: int = 0  # image files that could not be found to copy or link
    losses: list[Loss] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def lossless(self) -> bool:
        """True when nothing was dropped or changed."""
        return not self.losses

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["lossless"] = self.lossless
        return out


@dataclass
class ReadResult:
    """A parsed dataset with the problems met (collect mode) and the guesses made."""

    dataset: Dataset
    format: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "layout: ultralytics", "read 12 sizes from image headers"
    # Where records came from, filled only when the reader is called with ``provenance=True``
    # (validation does; convert does not, to stay fast). Paths are relative to the dataset root.
    # image_sources: index image_id; columns ``file`` (str: the label file describing the image).
    # annotation_sources: index annotation_id; columns ``file`` (str), ``line`` (Int64, 1-based,
    # line formats only) and ``record`` (str: JSON pointer such as ``annotations[12]`` or an XML
    # path such as ``object[2]``; NaN where ``line`` says it all).
    image_sources: pd.DataFrame | None = None
    annotation_sources: pd.DataFrame | None = None


class ImageSource(Protocol):
    """``(root, file_name, *, strict=False) -> bytes | None``: an image as the label files under `root` embed it.

    Bounded like the reader (size limits, decompression bombs). None when no label file embeds
    `file_name`; with ``strict=True`` embedded data that cannot be used (not base64, over the
    limit, not an image, a bomb) raises `InputError` saying why, where it would give None.
    """

    def __call__(self, root: Path, file_name: str, *, strict: bool = False) -> bytes | None: ...


@dataclass(frozen=True)
class FormatSpec:
    """One label format: its name, what it holds, and its detect/read/write functions."""

    name: str
    description: str
    capabilities: Capabilities
    detect: Callable[[Path], float | None]
    read: Callable[..., ReadResult]
    write: Callable[..., WriteReport]
    extensions: tuple[str, ...] = ()  # label file suffixes, for messages
    # What `write` would drop, given its options; None = `plan_losses` over `capabilities`.
    plan: Callable[..., list[Loss]] | None = None
    validation: ValidationHooks | None = None  # None: no documents, no derived locations
    # Image files the format's label files can hold themselves (LabelMe's base64 ``imageData``):
    # The images its label files embed (`ImageSource`); `place_images`, `image_bytes` and
    # validation ask it for images missing on disk. None: the format embeds no images.
    image_source: ImageSource | None = None

    def __post_init__(self) -> None:
        # declared here, asked by `embedded_image` without importing the registry (formats import base)
        if self.image_source is not None and self.image_source not in _IMAGE_SOURCES:
            _IMAGE_SOURCES.append(self.image_source)


# every FormatSpec.image_source declared so far, in declaration order
_IMAGE_SOURCES: list[ImageSource] = []


@dataclass(frozen=True)
class Document:
    """A metadata file of a dataset and the schema in ``schemas/`` it follows.

    Attributes:
        path: the file (absolute, or relative to the working directory).
        schema: a schema name (``schemas/<schema>.schema.json``), e.g. ``"data-yaml"``.
    """

    path: Path
    schema: str


@dataclass(frozen=True)
class Locating:
    """What a `ValidationHooks.locate` hook knows about the dataset being validated.

    Attributes:
        path: the dataset folder or label file given to validate; None for an in-memory Dataset.
        documents: the dataset's metadata documents (from `ValidationHooks.documents`).
        display: an image ``file_name`` -> its path as findings show it (relative to the input).
    """

    path: Path | None
    documents: tuple[Path, ...]
    display: Callable[[str], str]


@dataclass(frozen=True)
class ValidationHooks:
    """A format's answers to the questions validation would otherwise branch on its name for.

    Attributes:
        documents: ``(path, read_result) -> [Document]``: the metadata files of the dataset at
            `path` and the schema each follows (COCO json files, ``data.yaml``...).
        locate: ``(ds, ids, unit, locating) -> (files, records)``: for `ids` (image ids when
            `unit` is ``"image"``, else annotation ids), the label file and record each lives
            in, derived from the layout; used where the reader kept no provenance (an in-memory
            Dataset). Lists align with `ids`; None where unknown.
        checks: codes of the format-specific checks (`Check.format_specific`) that apply.
    """

    documents: Callable[[Path, ReadResult], list[Document]] | None = None
    locate: Callable[[Dataset, np.ndarray, str, Locating], tuple[list[str | None], list[str | None]]] | None = None
    checks: tuple[str, ...] = ()


def _examples(ids: pd.Index | np.ndarray) -> list[int]:
    return [int(i) for i in np.asarray(ids)[:MAX_EXAMPLES]]


def _rounding_tolerance(ds: Dataset) -> npt.NDArray[np.float64]:
    """``(N,)`` pixels per annotation below which rounding to a whole pixel changes nothing.

    Normalized sources (YOLO's 6 decimals) carry integer-pixel boxes as ``13.00032``: the
    print precision, 1e-6 of the image side, times the few terms of cx +- w/2, is noise, not a
    coordinate. Unknown sizes: 1e-9.
    """
    size = ds.images[["width", "height"]].astype("float64").max(axis=1)
    side = size.reindex(ds.annotations["image_id"].to_numpy()).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(side), 1e-9, np.maximum(1e-9, 2e-6 * side))


def _has_keypoints(attrs: Any) -> bool:
    extra = attrs.get(EXTRA_KEY) if isinstance(attrs, dict) else None
    return isinstance(extra, dict) and bool(extra.get("keypoints"))


def only_keypoints(attrs: dict[str, Any]) -> bool:
    """True when the keypoints are all an annotation's attributes (so no attributes-dropped as well)."""
    return (
        isinstance(attrs, dict)
        and set(attrs) == {EXTRA_KEY}
        and set(attrs[EXTRA_KEY]) <= {"keypoints", "num_keypoints"}
    )


def plan_losses(ds: Dataset, caps: Capabilities, *, format_name: str) -> list[Loss]:
    """Everything `ds` holds that a format with `caps` cannot, as `Loss` records.

    Vectorized over the annotation table; example ids are annotation ids unless the unit
    says otherwise. One rule per kind of loss (`_LOSS_RULES`, in report order). Writers add
    format-specific losses of their own.
    """
    return [loss for rule in _LOSS_RULES for loss in rule(ds, caps, format_name)]


def _loss(loss_code: str, message: str, ids: pd.Index, unit: _LossUnit = "annotation") -> list[Loss]:
    """One `Loss` for `ids`, or none when `ids` is empty (`loss_code` is a `Loss.code`, not a finding code)."""
    return [Loss(loss_code, message, len(ids), _examples(ids), unit=unit)] if len(ids) else []


def _truthy(column: pd.Series) -> npt.NDArray[np.bool_]:
    """``(N,)`` True where a dict/list column holds a non-empty value (NaN is False)."""
    return column.map(bool, na_action="ignore").fillna(False).astype(bool).to_numpy().copy()


def _segmentation_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    """``segmentation-dropped`` (label-only formats), else ``polygon-to-box`` / ``mask-to-box``."""
    anns = ds.annotations
    seg = anns["segmentation"]
    has_seg = seg.notna().to_numpy()
    if not has_seg.any():
        return []
    if not caps.boxes:
        msg = f"{name} holds class labels only: segmentations dropped"
        return _loss("segmentation-dropped", msg, anns.index[has_seg])
    is_rle = np.fromiter((isinstance(s, dict) for s in seg[has_seg]), bool, int(has_seg.sum()))
    losses = []
    if not caps.polygons:
        poly_ids = anns.index[has_seg][~is_rle]
        losses += _loss("polygon-to-box", f"{name} holds no polygons: kept their boxes only", poly_ids)
    if not caps.rle:
        rle_ids = anns.index[has_seg][is_rle]
        losses += _loss("mask-to-box", f"{name} holds no RLE masks: kept their boxes only", rle_ids)
    return losses


def _crowd_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.crowd:
        return []
    crowd = ds.annotations.index[ds.annotations["iscrowd"].to_numpy()]
    return _loss("crowd-flag-dropped", f"{name} has no crowd flag: crowd regions written as ordinary objects", crowd)


def _score_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.scores:
        return []
    scored = ds.annotations.index[ds.annotations["score"].notna().to_numpy()]
    return _loss("score-dropped", f"{name} holds no confidence scores", scored)


def _keypoint_rows(ds: Dataset, caps: Capabilities) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Annotations with attributes (less those that are only dropped keypoints), and the keypoint rows dropped."""
    anns = ds.annotations
    has_attrs = _truthy(anns["attributes"])
    kp = np.zeros(0, dtype=np.intp)
    if has_attrs.any() and not caps.keypoints:
        rows = np.flatnonzero(has_attrs)
        values = anns["attributes"].to_numpy()[rows]
        kp = rows[[_has_keypoints(a) for a in values]]
        if len(kp):
            has_attrs[[r for r, a in zip(rows, values, strict=True) if only_keypoints(a)]] = False
    return has_attrs, kp


def _keypoint_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    _, kp = _keypoint_rows(ds, caps)
    return _loss("keypoints-dropped", f"{name} holds no keypoints", ds.annotations.index[kp])


def _attribute_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.attributes:
        return []
    has_attrs, _ = _keypoint_rows(ds, caps)
    return _loss("attributes-dropped", f"{name} holds no per-object attributes", ds.annotations.index[has_attrs])


def _image_label_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.image_level_labels:
        return []
    no_box = ds.annotations.index[ds.annotations["x_min"].isna().to_numpy()]
    return _loss("image-label-dropped", f"{name} needs a box per object: labels without a box dropped", no_box)


def _box_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if not caps.image_level_labels or caps.boxes:
        return []
    boxed = ds.annotations.index[ds.annotations["x_min"].notna().to_numpy()]
    return _loss("box-dropped", f"{name} holds image-level labels only: boxes dropped, their classes kept", boxed)


def _rounding_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    anns = ds.annotations
    if caps.float_coordinates or not len(anns):
        return []
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        frac = (np.abs(xyxy - np.round(xyxy)) > _rounding_tolerance(ds)[:, None]).any(axis=1)
    msg = f"{name} stores integer pixel coordinates: rounded to the nearest pixel"
    return _loss("coordinates-rounded", msg, anns.index[frac])


def _image_attribute_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.image_attributes:
        return []
    ids = ds.images.index[_truthy(ds.images["attributes"])]
    return _loss("image-attributes-dropped", f"{name} holds no per-image extras (license, urls...)", ids, "image")


def _group_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.groups:
        return []
    grouped = ds.images.index[ds.images["group"].notna().to_numpy()]
    return _loss("group-dropped", f"{name} holds no leak groups", grouped, "image")


def _info_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if not ds.info or caps.info:
        return []
    msg = f"{name} holds no dataset info/licenses: {', '.join(sorted(ds.info))}"
    return [Loss("info-dropped", msg, len(ds.info), unit="dataset")]


def _split_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    return _split_name_losses(ds, name) if caps.splits else []


def _supercategory_losses(ds: Dataset, caps: Capabilities, name: str) -> list[Loss]:
    if caps.supercategories:
        return []
    sup = ds.categories.index[ds.categories["supercategory"].notna().to_numpy()]
    return _loss("supercategory-dropped", f"{name} holds no supercategories", sup, "category")


# One rule per kind of loss, in the order `plan_losses` reports them.
_LOSS_RULES: tuple[Callable[[Dataset, Capabilities, str], list[Loss]], ...] = (
    _segmentation_losses,
    _crowd_losses,
    _score_losses,
    _keypoint_losses,
    _attribute_losses,
    _image_label_losses,
    _box_losses,
    _rounding_losses,
    _image_attribute_losses,
    _group_losses,
    _info_losses,
    _split_losses,
    _supercategory_losses,
)


def _split_name_losses(ds: Dataset, format_name: str) -> list[Loss]:
    """A ``split-renamed`` loss for split names no file name can hold (`split_file_name`)."""
    split = ds.images["split"].astype(object)
    names = [s for s in split.dropna().unique().tolist() if split_file_name(str(s)) != s]
    if not names:
        return []
    ids = ds.images.index[split.isin(names).to_numpy()]
    pairs = ", ".join(f"{n!r} -> {split_file_name(str(n))!r}" for n in names[:3])
    return [
        Loss(
            "split-renamed",
            f"{format_name} writes split names into file names: renamed ({pairs})",
            len(ids),
            _examples(ids),
            unit="image",
        )
    ]


UNASSIGNED_SPLIT = "unassigned"


def place_images(ds: Dataset, destinations: Iterable[str | Path], mode: str) -> tuple[int, int]:
    """Copy or link every image of `ds` (in `ds.images` order) to its destination path.

    Returns ``(placed, missing)``: files copied/linked, and sources that were not found
    (counted, not fatal: validation reports missing images). ``mode="none"`` places nothing.
    An image missing on disk that a label file embeds (`embedded_image`: LabelMe's
    ``imageData``) is written from those bytes, for ``"copy"`` and ``"link"`` alike.
    """
    if mode == "none":
        return 0, 0
    names = ds.images["file_name"].tolist()
    root = os.fspath(ds.root or ".")
    pairs = [(os.path.join(root, n), os.fspath(d)) for n, d in zip(names, destinations, strict=True)]
    placed = transfer_files(pairs, mode)
    if placed < len(pairs) and ds.root is not None:  # only then: the common case costs nothing more
        for name, (_, dst) in zip(names, pairs, strict=True):
            if not os.path.exists(dst) and (data := embedded_image(ds.root, name)) is not None:
                Path(dst).parent.mkdir(parents=True, exist_ok=True)
                Path(dst).write_bytes(data)
                placed += 1
    return placed, len(pairs) - placed


def embedded_image(root: Path, file_name: str, *, strict: bool = False) -> bytes | None:
    """The bytes of image `file_name` (relative to `root`) as a label file holds it, or None.

    Asks each format's `FormatSpec.image_source` (LabelMe's base64 ``imageData``), passing
    `strict` on (`ImageSource`).
    """
    for source in _IMAGE_SOURCES:
        if (data := source(root, file_name, strict=strict)) is not None:
            return data
    return None


def image_bytes(ds: Dataset, file_name: str) -> bytes | None:
    """The bytes of one image of `ds`: its file under `ds.root`, else what a label file embeds; None if neither."""
    try:
        return ds.resolve(file_name).read_bytes()
    except OSError:
        return None if ds.root is None else embedded_image(ds.root, file_name)


# Split folder names recognised on reading (lower-cased) -> split value; "unassigned" is what
# `image_layout` names images without a split in a dataset that has splits.
SPLIT_ALIASES: dict[str, str | None] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
    "trainval": "trainval",
    UNASSIGNED_SPLIT: None,
}


_SPLIT_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def split_file_name(split: str) -> str:
    """`split` as writers use it in file and folder names (``images/<split>/``, ``<split>.txt``).

    A custom name (``v2``, ``val2014_100``, ``fold3``) is kept as it is; characters no file name can
    hold (``/``, ``\\``, NUL, controls, Windows' reserved ``:*?"<>|``) become ``_``, and an empty,
    ``.``/``..`` or hidden name gets a ``_`` prefix. `plan_losses` lists the splits this renames.
    """
    clean = _SPLIT_UNSAFE.sub("_", split).strip()
    if not clean or clean.startswith("."):
        clean = "_" + clean.lstrip(".")
    return clean


def image_layout(ds: Dataset) -> pd.DataFrame:
    """Where each image goes in a split-based output layout.

    Returns a frame aligned with ``ds.images`` with columns ``split`` (the output split
    folder name; ``""`` when the dataset has no splits at all, ``"unassigned"`` for images
    without a split in a dataset that has some) and ``name`` (the image's path relative to its
    split folder: `file_name` with the directory prefix shared by that split removed, so
    ``images/train/a.jpg`` becomes ``a.jpg`` and sub-folders below the split are kept). When
    the shared prefix runs past a layout folder (``images``, ``JPEGImages``, the split's own
    name...), only the part up to that folder is removed: ``images/train/sub/a.jpg`` alone in
    its split stays ``sub/a.jpg``.
    """
    images = ds.images
    split = images["split"]
    if split.isna().all():
        keys = [""] * len(images)
    else:
        safe = {str(s): split_file_name(str(s)) for s in split.dropna().unique()}
        keys = [safe[s] if isinstance(s, str) else UNASSIGNED_SPLIT for s in split.astype(object).tolist()]
    names = images["file_name"].astype(object).tolist()
    # plain lists: ~5x faster than pandas string methods on 50k names
    dirs_by_key: dict[str, set[str]] = {}
    for key, name in zip(keys, names, strict=True):
        dirs_by_key.setdefault(key, set()).add(name.rpartition("/")[0])
    cut = {
        key: len(prefix) + 1 if (prefix := _layout_prefix(_common_dir(sorted(dirs)), key)) else 0
        for key, dirs in dirs_by_key.items()
    }
    out_names = [name[cut[key] :] for key, name in zip(keys, names, strict=True)]
    return pd.DataFrame({"split": keys, "name": out_names}, index=images.index, dtype=object)


_LAYOUT_FOLDERS = frozenset({"images", "jpegimages", "data", *SPLIT_ALIASES})


def _layout_prefix(prefix: str, split: str) -> str:
    """`prefix` cut after its last layout folder (``images``, the split name...), if it has one."""
    parts = prefix.split("/") if prefix else []
    known = [
        i
        for i, p in enumerate(parts)
        if p.lower() in _LAYOUT_FOLDERS or (split and p == split) or (p.startswith("obj_") and p.endswith("_data"))
    ]
    return "/".join(parts[: known[-1] + 1]) if known else prefix


def _common_dir(dirs: list[str]) -> str:
    """Longest common ``/``-separated directory prefix of `dirs` (``""`` when none)."""
    if not dirs or any(d == "" for d in dirs):
        return ""
    parts = [d.split("/") for d in dirs]
    common: list[str] = []
    for segs in zip(*parts, strict=False):
        if all(s == segs[0] for s in segs):
            common.append(segs[0])
        else:
            break
    return "/".join(common)
