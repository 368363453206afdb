"""The offline run behind `dataprep.augment`: pick images, augment them, stage files, write.

Augmented images are written into a staging folder next to the output, beside symbolic links
to the unchanged originals; the combined dataset (root = the staging folder) then goes through
`dataprep.formats.write`, which lays out and writes every format atomically. The staging
folder is removed whatever happens.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.augmentation.pipeline import Pipeline
from dataprep.augmentation.sample import Sample
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, Severity, UsageError
from dataprep.files import safe_join

if TYPE_CHECKING:
    from dataprep.augmentation import AugmentResult

PREVIEW_IMAGES = 4  # source images shown in a preview
PREVIEW_COPIES = 3  # copies shown next to each
CACHE_IMAGES = 16  # decoded images kept for mosaic partners
MAX_EXAMPLES = 5  # example annotation ids per count in the report
_FATES = ("clipped", "dropped_outside", "dropped_degenerate")


@dataclass(frozen=True)
class Selection:
    """Which images get augmented copies."""

    image_ids: npt.NDArray[np.int64]
    splits: list[str] | None  # None: every image (the dataset has no splits)


def select_images(ds: Dataset, splits: list[str] | None) -> Selection:
    """The images to augment: `splits` (default ``train`` when the dataset has splits), else all.

    Raises:
        UsageError: a requested split is absent, or splits are requested from a dataset without any.
    """
    present = ds.splits
    if splits is None:
        if not present:
            return Selection(ds.images.index.to_numpy(), None)
        if "train" not in present:
            raise UsageError(
                f"--splits: the dataset has splits {', '.join(present)} but no 'train', the default. "
                f"Pass --splits with the split(s) to augment, e.g. --splits {present[0]}"
            )
        splits = ["train"]
    elif not present:
        raise UsageError(
            f"--splits {','.join(splits)}: the dataset has no splits. Omit --splits to augment every image"
        )
    missing = [s for s in splits if s not in present]
    if missing:
        raise UsageError(f"--splits {','.join(splits)}: no split {missing[0]!r}. The dataset has: {', '.join(present)}")
    mask = ds.images["split"].isin(splits).to_numpy()
    return Selection(ds.images.index.to_numpy()[mask], list(splits))


class _Unreadable(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


class _Images:
    """Decodes images of `ds` as ``(H, W, C)`` uint8 (EXIF orientation applied), with a small cache."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.cache: OrderedDict[int, Any] = OrderedDict()

    def __call__(self, image_id: int) -> npt.NDArray[np.uint8]:
        if image_id in self.cache:
            self.cache.move_to_end(image_id)
            value = self.cache[image_id]
        else:
            try:
                value = load_image(self.ds.resolve(self.ds.images.at[image_id, "file_name"]))
            except InputError as err:
                code = "image-missing" if "not found" in err.problem else "image-unreadable"
                value = _Unreadable(
                    Finding(code, Severity.ERROR, err.problem, image_id=int(image_id), file=err.path, hint=err.hint)
                )
            self.cache[image_id] = value
            if len(self.cache) > CACHE_IMAGES:
                self.cache.popitem(last=False)
        if isinstance(value, _Unreadable):
            raise value
        return value


def load_image(path: str | Path) -> npt.NDArray[np.uint8]:
    """``(H, W, C)`` uint8 pixels of an image file, as displayed (EXIF orientation applied).

    Greyscale stays one channel; every other mode becomes RGB.

    Raises:
        InputError: missing or undecodable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode not in ("L", "RGB"):
                im = im.convert("RGB")
            arr = np.asarray(im)
    except FileNotFoundError:
        raise InputError(path, "image file not found", hint="Check the file name in the labels") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as err:
        raise InputError(path, f"not a readable image ({err})", hint="Re-export or remove the file") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def save_image(image: npt.NDArray[np.uint8], path: Path) -> Path:
    """Write pixels in the format of `path`'s suffix (PNG if Pillow cannot write that one); the path used."""
    from PIL import Image

    im = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    options: dict[str, Any] = {"quality": 95} if ext in (".jpg", ".jpeg", ".jfif") else {}
    try:
        im.save(path, **options)
    except (KeyError, ValueError, OSError):
        path.unlink(missing_ok=True)
        path = path.with_suffix(".png")
        im.save(path)
    return path


def _copy_name(file_name: str, copy: int, taken: set[str]) -> str:
    p = PurePosixPath(file_name)
    name = str(p.with_name(f"{p.stem}_aug{copy}{p.suffix}"))
    n = 1
    while name in taken:
        n += 1
        name = str(p.with_name(f"{p.stem}_aug{copy}_{n}{p.suffix}"))
    taken.add(name)
    return name


def run(
    ds: Dataset,
    dst: Path,
    pipeline: Pipeline,
    image_ids: npt.NDArray[np.int64],
    result: AugmentResult,
    *,
    originals: bool,
    images: str,
    overwrite: bool,
    preview: str | Path | None,
) -> None:
    """Augment `image_ids`, write the output dataset to `dst`, fill `result` (see `dataprep.augment`)."""
    from dataprep import formats

    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.augment-", dir=dst.parent))
    try:
        copies, shown = _make_copies(ds, pipeline, image_ids, staging, result)
        out = _assemble(ds, copies, image_ids, staging, originals=originals)
        result.copies_written = len(copies.images["image_id"])
        result.originals_written = len(out.images) - result.copies_written
        result.images_augmented = len(set(copies.images["source_image_id"]))
        result.written = formats.write(out, dst, result.format, images=images, overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if preview is not None:
        from dataprep.augmentation.preview import plot_preview

        names = ds.categories["name"].astype(str).to_dict()
        result.preview = str(plot_preview(shown, names, preview))


class _Copies:
    """The augmented copies made so far: image rows, object rows, and what happened to objects."""

    def __init__(self, first_image_id: int) -> None:
        self.next_id = first_image_id
        self.images: dict[str, list[Any]] = {
            k: [] for k in ("image_id", "source_image_id", "file_name", "width", "height")
        }
        self.objects: dict[str, list[Any]] = {k: [] for k in ("image_id", "source_row", "boxes", "segmentation")}
        self.fates: dict[str, list[npt.NDArray[np.int64]]] = {k: [] for k in _FATES}
        self.objects_in = self.objects_out = 0

    def add(self, out: Sample, source_image_id: int, file_name: str) -> None:
        """Record one copy (`out`) of image `source_image_id`, written as `file_name`."""
        for key, value in zip(
            self.images, (self.next_id, source_image_id, file_name, out.width, out.height), strict=True
        ):
            self.images[key].append(value)
        self.objects["image_id"].append(np.full(len(out.boxes_xyxy), self.next_id, np.int64))
        self.objects["source_row"].append(out.source_index)
        self.objects["boxes"].append(out.boxes_xyxy)
        self.objects["segmentation"].extend(out.polygons)
        self.fates["clipped"].append(out.source_index[out.clipped])
        self.fates["dropped_outside"].append(out.dropped_outside)
        self.fates["dropped_degenerate"].append(out.dropped_degenerate)
        self.objects_in += len(out.boxes_xyxy) + len(out.dropped_outside) + len(out.dropped_degenerate)
        self.objects_out += len(out.boxes_xyxy)
        self.next_id += 1

    def count(self, result: AugmentResult, annotation_ids: npt.NDArray[np.int64]) -> None:
        """Fill `result`'s object counts and example annotation ids."""
        result.objects_in, result.objects_out = self.objects_in, self.objects_out
        for key, parts in self.fates.items():
            rows = np.concatenate(parts) if parts else np.zeros(0, np.int64)
            setattr(result, key, len(rows))
            if len(rows):
                result.examples[key] = [int(v) for v in annotation_ids[np.unique(rows)][:MAX_EXAMPLES]]


def _make_copies(
    ds: Dataset,
    pipeline: Pipeline,
    image_ids: npt.NDArray[np.int64],
    staging: Path,
    result: AugmentResult,
) -> tuple[_Copies, list[tuple[Sample, list[Sample]]]]:
    anns = ds.annotations
    starts, stops = ds.image_slices()
    row = pd.Series(np.arange(len(ds.images)), index=ds.images.index)
    boxes_all = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    cats_all = anns["category_id"].to_numpy()
    segs_all = anns["segmentation"].tolist()
    load = _Images(ds)
    taken = set(ds.images["file_name"].astype(str))
    next_image_id = int(ds.images.index.max()) + 1 if len(ds.images) else 1
    pool = np.sort(np.asarray(image_ids, dtype=np.int64))

    def sample_of(image_id: int) -> Sample:
        i = int(row[image_id])
        rows = np.arange(starts[i], stops[i])
        return Sample.from_arrays(
            load(image_id), boxes_all[rows], [segs_all[r] for r in rows], cats_all[rows], source_index=rows
        )

    def partners_of(image_id: int, copy: int) -> list[Sample]:
        rng = np.random.default_rng([result.seed, int(image_id), copy, 1])
        found: list[Sample] = []
        others = pool[pool != image_id]
        for candidate in rng.permutation(others if len(others) else pool):
            try:
                found.append(sample_of(int(candidate)))
            except _Unreadable:
                continue
            if len(found) == 3:
                break
        while found and len(found) < 3:  # fewer than four readable images: repeat
            found.append(found[len(found) % len(found)])
        return found

    copies = _Copies(next_image_id)
    shown: list[tuple[Sample, list[Sample]]] = []
    file_names = ds.images["file_name"].astype(str)
    for image_id in pool:
        try:
            base = sample_of(int(image_id))
        except _Unreadable as err:
            result.findings.append(err.finding)
            continue
        outs = []
        for copy in range(1, result.copies + 1):
            rng = np.random.default_rng([result.seed, int(image_id), copy])
            out = pipeline.apply(
                base,
                rng=rng,
                partners=(lambda i=int(image_id), c=copy: partners_of(i, c)) if pipeline.partners_needed else None,
            )
            name = _copy_name(file_names[image_id], copy, taken)
            saved = save_image(out.image, safe_join(staging, name))
            copies.add(out, int(image_id), str(PurePosixPath(name).with_suffix(saved.suffix)))
            if len(shown) < PREVIEW_IMAGES and len(outs) < PREVIEW_COPIES:
                outs.append(out)
        if len(shown) < PREVIEW_IMAGES:
            shown.append((base, outs))
    copies.count(result, anns.index.to_numpy())
    return copies, shown


def _assemble(
    ds: Dataset,
    copies: _Copies,
    image_ids: npt.NDArray[np.int64],
    staging: Path,
    *,
    originals: bool,
) -> Dataset:
    """Originals (linked into `staging`) plus the copies, as one Dataset rooted at `staging`."""
    kept = ds.images if originals else ds.images.loc[~ds.images.index.isin(image_ids)]
    for name in kept["file_name"].astype(str):
        src = ds.resolve(name)
        link = safe_join(staging, name)
        if src.exists() and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src.resolve(), link)
    img = copies.images
    source = ds.images.loc[img["source_image_id"]] if img["image_id"] else ds.images.iloc[:0]
    new_images = pd.DataFrame(
        {
            "file_name": img["file_name"],
            "width": img["width"],
            "height": img["height"],
            "split": source["split"].to_numpy(),
            "group": source["group"].to_numpy(),
            "attributes": source["attributes"].to_numpy(),
        },
        index=pd.Index(np.asarray(img["image_id"], dtype=np.int64), name="image_id"),
    )
    ann = copies.objects
    source_rows = np.concatenate(ann["source_row"]) if ann["source_row"] else np.zeros(0, np.int64)
    boxes = np.concatenate(ann["boxes"]) if ann["boxes"] else np.zeros((0, 4))
    src_anns = ds.annotations.iloc[source_rows]
    first_ann = int(ds.annotations.index.max()) + 1 if len(ds.annotations) else 1
    new_anns = pd.DataFrame(
        {
            "image_id": np.concatenate(ann["image_id"]) if ann["image_id"] else np.zeros(0, np.int64),
            "category_id": src_anns["category_id"].to_numpy(),
            **{c: boxes[:, j] for j, c in enumerate(BOX_COLUMNS)},
            "segmentation": pd.Series(ann["segmentation"], dtype=object).to_numpy(),
            "iscrowd": src_anns["iscrowd"].to_numpy(),
            "score": src_anns["score"].to_numpy(),
            "area": np.full(len(source_rows), np.nan),
            "attributes": src_anns["attributes"].to_numpy(),
        },
        index=pd.Index(np.arange(first_ann, first_ann + len(source_rows), dtype=np.int64), name="annotation_id"),
    )
    # drop only the left-out originals' objects: dangling annotations stay for validate to report
    removed = ds.images.index.difference(kept.index)
    kept_anns = ds.annotations.loc[~ds.annotations["image_id"].isin(removed)]
    return Dataset.from_frames(
        pd.concat([kept, new_images]),
        pd.concat([kept_anns, new_anns]),
        ds.categories,
        root=staging,
        info=ds.info,
    )
