"""Box- and polygon-aware augmentation: seeded pipelines of transforms (no torch at import).

Two ways in, one definition of each transform:

Offline, a whole dataset (what ``dataprep augment`` runs)::

    result = dataprep.augment("data/coco", "out/aug", pipeline="detection", copies=2, seed=0)

Online, one sample at a time (a training data loader)::

    from dataprep.augmentation import load_pipeline
    pipeline = load_pipeline("detection")                   # preset, YAML/JSON file or dict
    rng = np.random.default_rng([seed, image_id, epoch])    # one generator per sample
    out = pipeline(image, boxes_xyxy, polygons, category_ids, rng=rng)
    out.image          # (H', W', C) uint8
    out.boxes_xyxy     # (M, 4) float64 absolute pixels, clipped to the image
    out.category_ids   # (M,) int64
    out.polygons       # M entries: None, list of (K, 2) float64 parts, or a COCO RLE dict
    out.source_index   # (M,) int64: input row of each output object (other columns ride along)

Inputs: ``image`` ``(H, W, C)`` uint8 (C = 1 or 3), ``boxes_xyxy`` ``(N, 4)`` float64 absolute
continuous pixels (an all-NaN row is an image-level label and passes unchanged), ``polygons``
N entries as above, ``category_ids`` ``(N,)``. A pipeline with a ``mosaic`` also needs
``partners=``: three more `Sample`\\ s (or a function returning them, called only when the
mosaic fires); `Pipeline.partners_needed` says so.

Geometry is numpy + OpenCV + shapely: consecutive geometric transforms (scale, rotate, shear,
translate, flips, crops) are composed into one ``3x3`` matrix and the image is resampled once
(``cv2.warpAffine`` through the inverse matrix, OpenCV on one thread; ``backend: pillow`` uses
Pillow's affine transform instead). Boxes come from the transformed
polygon (or RLE mask) when the object has one, else from the four transformed corners.
Randomness for image ``image_id``, copy ``k`` comes only from
``np.random.default_rng([seed, image_id, k])``, so results do not depend on order or workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataprep.augmentation.pipeline import (
    BACKENDS,
    PRESETS,
    Pipeline,
    load_pipeline,
    pipeline_from_dict,
    pipeline_schema,
)
from dataprep.augmentation.sample import Sample
from dataprep.augmentation.transforms import TRANSFORMS, Transform
from dataprep.errors import ExitCode, Finding, OutputError, UsageError

if TYPE_CHECKING:
    from dataprep.dataset import Dataset
    from dataprep.formats.base import WriteReport

__all__ = [
    "PRESETS",
    "TRANSFORMS",
    "AugmentResult",
    "Pipeline",
    "Sample",
    "Transform",
    "augment",
    "load_pipeline",
    "pipeline_from_dict",
    "pipeline_schema",
]


@dataclass
class AugmentResult:
    """What `augment` read, made, dropped and wrote.

    Object counts are over the augmented copies: ``objects_in`` is the number of source objects
    times copies; ``clipped`` objects were cut at the border and kept; ``dropped_outside`` kept
    less than the pipeline's ``min_visibility``; ``dropped_degenerate`` had no area or a side
    under ``min_size`` pixels. Example ids are source annotation ids.
    """

    source_format: str
    format: str
    pipeline: dict[str, Any]
    seed: int
    copies: int
    splits: list[str] | None
    images_in: int = 0
    images_augmented: int = 0
    copies_written: int = 0
    originals_written: int = 0
    objects_in: int = 0
    objects_out: int = 0
    clipped: int = 0
    dropped_outside: int = 0
    dropped_degenerate: int = 0
    examples: dict[str, list[int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: WriteReport | None = None
    preview: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        """FINDINGS when an image could not be read (it was skipped), else OK."""
        return ExitCode.FINDINGS if self.findings else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "source_format": self.source_format,
            "format": self.format,
            "pipeline": self.pipeline,
            "seed": self.seed,
            "copies": self.copies,
            "splits": self.splits,
            "images_in": self.images_in,
            "images_augmented": self.images_augmented,
            "copies_written": self.copies_written,
            "originals_written": self.originals_written,
            "objects_in": self.objects_in,
            "objects_out": self.objects_out,
            "clipped": self.clipped,
            "dropped_outside": self.dropped_outside,
            "dropped_degenerate": self.dropped_degenerate,
            "examples": self.examples,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
            "written": None if self.written is None else self.written.to_dict(),
            "preview": self.preview,
            "exit_code": int(self.exit_code),
        }


def augment(
    source: str | Path | Dataset,
    dst: str | Path,
    *,
    pipeline: str | Path | dict[str, Any] | Pipeline,
    copies: int = 1,
    seed: int = 0,
    splits: list[str] | None = None,
    to: str | None = None,
    originals: bool = True,
    preview: str | Path | None = None,
    backend: str | None = None,
    images: str = "copy",
    overwrite: bool = False,
) -> AugmentResult:
    """Write a dataset with `copies` augmented copies of each selected image, labels moved along.

    Args:
        source: a dataset folder/file (format detected) or a `Dataset` (its `root` holds the images).
        dst: output folder, written atomically.
        pipeline: preset name (``light``, ``detection``, ``classification``), YAML/JSON file,
            pipeline dict or `Pipeline`.
        copies: augmented copies per selected image (1..1000).
        seed: copy ``k`` of image ``image_id`` uses ``default_rng([seed, image_id, k])``.
        splits: splits to augment; default ``["train"]`` when the dataset has splits, every
            image when it has none. Other images are written unchanged.
        to: output format; default the input's (``"coco"`` for an in-memory `Dataset`).
        originals: also write the selected images themselves.
        preview: write a PNG grid of originals and copies with boxes and class names here.
        backend: override the pipeline's image kernels: ``"opencv"`` (the pipeline default)
            or ``"pillow"``.
        images: how unchanged originals reach `dst`: ``"copy"`` or ``"link"``.
        overwrite: replace an existing `dst`.

    Raises:
        UsageError: bad pipeline, copies, seed or splits (exit 2).
        InputError: the source cannot be read (exit 3).
        OutputError: `dst` exists without `overwrite`, or is the source (exit 4).

    An image that cannot be decoded is skipped, named in `AugmentResult.findings`, and the
    rest is written (`AugmentResult.exit_code` is then 1).
    """
    from dataprep import formats
    from dataprep.augmentation import runner

    pipe = _pipeline_with_backend(pipeline, backend)
    _check_arguments(copies=copies, seed=seed, images=images)
    dst_p = Path(dst)
    if dst_p.exists() and not overwrite:
        raise OutputError(f"{dst_p}: already exists. Choose another output or pass --overwrite.")
    ds, source_format, notes, findings = _read_source(source, dst)
    to = to or (source_format if source_format in formats.FORMATS else "coco")
    formats.get_format(to)
    selected = runner.select_images(ds, splits)
    result = AugmentResult(
        source_format=source_format,
        format=to,
        pipeline=pipe.to_dict(),
        seed=seed,
        copies=copies,
        splits=selected.splits,
        images_in=len(ds.images),
        findings=findings,
        notes=notes,
    )
    runner.run(
        ds,
        dst_p,
        pipe,
        selected.image_ids,
        result,
        originals=originals,
        images=images,
        overwrite=overwrite,
        preview=preview,
    )
    return result


def _pipeline_with_backend(pipeline: str | Path | dict[str, Any] | Pipeline, backend: str | None) -> Pipeline:
    """`load_pipeline(pipeline)`, its image kernels switched to `backend` when one is given."""
    pipe = load_pipeline(pipeline)
    if backend is not None and backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r}: unknown. Use one of: {', '.join(BACKENDS)}")
    if backend is not None and backend != pipe.backend:
        pipe = load_pipeline({**pipe.to_dict(), "backend": backend})
    return pipe


def _check_arguments(*, copies: int, seed: int, images: str) -> None:
    """Raise `UsageError` for copies outside 1..1000, a negative or non-integer seed, or images not copy/link."""
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= 1000:
        raise UsageError(f"--copies {copies!r}: must be an integer from 1 to 1000. Pass e.g. --copies 2")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"--seed {seed!r}: must be a non-negative integer. Pass e.g. --seed 0")
    if images not in ("copy", "link"):
        raise UsageError(f"images={images!r}: augment writes image files; use 'copy' or 'link'")


def _read_source(source: str | Path | Dataset, dst: str | Path) -> tuple[Dataset, str, list[str], list[Finding]]:
    """The dataset to augment, its format (``"dataset"`` in memory), and the reader's notes and findings.

    Raises:
        OutputError: `dst` is the source folder or lies inside it.
    """
    from dataprep import formats

    if not isinstance(source, str | Path):
        return source, "dataset", [], []
    src_p, dst_p = Path(source).resolve(), Path(dst).resolve()
    if src_p == dst_p or dst_p in src_p.parents:
        raise OutputError(f"{dst}: output would replace the input {source}. Choose another output folder.")
    loaded = formats.load(source)
    return loaded.dataset, loaded.format, list(loaded.notes), list(loaded.findings)
