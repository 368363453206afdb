"""From a `Dataset` to encoder input and back: class indices, clipping, letterbox, layouts.

`encode_dataset` is what ``dataprep encode`` runs: boxes of every image are clipped to their
image (reported), letterboxed to the network size and encoded in one vectorized call, with the
image ids as the image keys of the targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.encoding.kmeans import AnchorFit, anchor_fit, kmeans_anchors
from dataprep.encoding.layout import (
    YOLOV3_ANCHORS,
    Layout,
    anchor_layout,
    default_strides,
    grid_layout,
    read_anchors,
)
from dataprep.encoding.letterbox import letterbox, letterbox_geometry
from dataprep.encoding.targets import Targets, encode
from dataprep.errors import InputError, OutputError, UsageError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LISTED = 100  # dropped boxes listed in `EncodedDataset.to_dict` (counts are always complete)


@dataclass(frozen=True)
class PreparedBoxes:
    """Boxes of a dataset ready for `encode`: ``(N,)``/``(N, 4)`` arrays in annotation order.

    Attributes:
        xyxy: corners in network pixels (clipped to the image, then letterboxed).
        class_index, image_id, annotation_id: int64.
        images: the dataset's images with known ``width``/``height`` (probed where missing)
            and letterbox ``scale_x, scale_y, pad_x, pad_y``.
        skipped: ``image_id``, ``annotation_id``, ``reason`` of annotations not given to the
            encoder: ``no-box`` (image-level label), ``iscrowd``, ``dangling-image``,
            ``dangling-category``, ``box-outside-image`` (nothing left inside the image).
        clipped: ``image_id``, ``annotation_id`` of boxes clipped to their image.
        notes: what else was left out (images of unknown size without boxes).
    """

    xyxy: FloatArray
    class_index: IntArray
    image_id: IntArray
    annotation_id: IntArray
    images: pd.DataFrame
    skipped: pd.DataFrame
    clipped: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def prepare_boxes(ds: Dataset, img_size: int) -> PreparedBoxes:
    """Clip each box to its image, letterbox it to `img_size`, map category_id to class_index.

    Raises:
        InputError: an image with boxes has no known size and its file cannot be probed.
    """
    images, notes = _with_sizes(ds)
    geometry = letterbox_geometry(images["width"].to_numpy(float), images["height"].to_numpy(float), img_size)
    images = images.assign(
        scale_x=geometry.scale_x, scale_y=geometry.scale_y, pad_x=geometry.pad_x, pad_y=geometry.pad_y
    )
    anns = ds.annotations
    boxes = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    class_map = ds.class_index()
    reasons = [
        ("no-box", np.isnan(boxes).all(axis=1)),
        ("iscrowd", anns["iscrowd"].to_numpy(dtype=bool)),
        ("dangling-image", ~anns["image_id"].isin(images.index).to_numpy()),
        ("dangling-category", ~anns["category_id"].isin(class_map.index).to_numpy()),
    ]
    reason = np.full(len(anns), "", dtype=object)
    for name, mask in reversed(reasons):
        reason[mask] = name
    sizes = images.reindex(anns["image_id"])[["width", "height"]].to_numpy(dtype=np.float64)
    clip = np.clip(boxes, 0.0, np.concatenate([sizes, sizes], axis=1))
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        outside = valid & ((clip[:, 2] <= clip[:, 0]) | (clip[:, 3] <= clip[:, 1]))
    reason[(reason == "") & outside] = "box-outside-image"
    use = reason == ""
    changed = use & valid & (clip != boxes).any(axis=1)
    boxes = np.where(valid[:, None], clip, boxes)  # broken boxes go on as they are: `encode` names them
    ids = anns.index.to_numpy(dtype=np.int64)
    image_id = anns["image_id"].to_numpy(dtype=np.int64)
    net = letterbox(boxes[use], sizes[use, 0], sizes[use, 1], img_size=img_size)
    skip = ~use
    return PreparedBoxes(
        xyxy=net,
        class_index=class_map.reindex(anns["category_id"].to_numpy()[use]).to_numpy(dtype=np.int64),
        image_id=image_id[use],
        annotation_id=ids[use],
        images=images,
        skipped=pd.DataFrame({"image_id": image_id[skip], "annotation_id": ids[skip], "reason": reason[skip]}),
        clipped=pd.DataFrame({"image_id": image_id[changed], "annotation_id": ids[changed]}),
        notes=notes,
    )


def _with_sizes(ds: Dataset) -> tuple[pd.DataFrame, list[str]]:
    """Images with int ``width``/``height`` (missing sizes probed from the files' headers), and notes.

    An image without boxes whose size cannot be probed is left out, and a note says which.
    """
    from dataprep.files import probe_image

    images = ds.images
    notes: list[str] = []
    missing = images["width"].isna() | images["height"].isna()
    if missing.any():
        has_boxes = images.index.isin(ds.annotations["image_id"])
        width = images["width"].copy()
        height = images["height"].copy()
        unknown = []
        for image_id in images.index[missing]:
            path = ds.resolve(images.at[image_id, "file_name"])
            try:
                header = probe_image(path)
            except InputError as err:
                if not has_boxes[images.index.get_loc(image_id)]:
                    unknown.append(int(image_id))
                    continue
                raise InputError(
                    path,
                    f"image {image_id} has boxes but no known size ({err.problem})",
                    hint="Give width/height in the labels or put the image file beside them",
                ) from None
            width[image_id], height[image_id] = header.width, header.height
        images = images.assign(width=width, height=height)
        images = images[images["width"].notna() & images["height"].notna()]
        if unknown:
            notes.append(f"{len(unknown)} images without boxes and of unknown size left out (ids {unknown[:10]})")
    return images.assign(width=images["width"].astype(np.int64), height=images["height"].astype(np.int64)), notes


def box_sizes(ds: Dataset, img_size: int, *, split: str | None = None) -> FloatArray:
    """``(N, 2)`` (w, h) of the dataset's usable boxes in network pixels (letterboxed to `img_size`).

    `split` restricts to one split's images (None: all). Crowd, image-level, broken and empty
    boxes are left out.
    """
    prepared = prepare_boxes(ds, img_size)
    keep = np.ones(len(prepared.image_id), dtype=bool)
    if split is not None:
        keep = prepared.images.reindex(prepared.image_id)["split"].to_numpy() == split
    wh = prepared.xyxy[keep, 2:] - prepared.xyxy[keep, :2]
    with np.errstate(invalid="ignore"):
        return wh[np.isfinite(wh).all(axis=1) & (wh > 0).all(axis=1)]


def make_layout(
    ds: Dataset,
    *,
    grid: int | None = None,
    anchors: str | Path | npt.ArrayLike | None = None,
    img_size: int | None = None,
    predictors: int = 2,
    scales: int = 3,
    k: int = 9,
    assign: str = "best",
    keep: str = "largest",
    seed: int = 0,
    wh_units: str = "image",
) -> tuple[Layout, AnchorFit | None]:
    """The `Layout` for a dataset from the CLI's choices, and the anchors' fit on its boxes.

    Args:
        grid: S for a YOLOv1 grid (`img_size` default ``64 · S``); `wh_units` ``"image"`` or ``"cell"``.
        anchors: ``"auto"`` (k-means on the boxes, train split when there is one), ``"yolov3"``,
            a file path (`read_anchors`) or an ``(A, 2)`` array in pixels at `img_size` (default 416).

    Raises:
        UsageError: both or neither of `grid` and `anchors`, or a bad value (named, with the fix).
    """
    num_classes = len(ds.categories)
    if (grid is None) == (anchors is None):
        raise UsageError("choose one target layout: --grid S (YOLOv1) or --anchors FILE|auto|yolov3 (YOLOv2/v3)")
    if grid is not None:
        layout = grid_layout(
            grid, img_size=img_size, predictors=predictors, num_classes=num_classes, keep=keep, wh_units=wh_units
        )
        return layout, None
    size = 416 if img_size is None else img_size
    if isinstance(anchors, str) and anchors in ("auto", "yolov3"):
        split = "train" if "train" in ds.splits else None
        wh = box_sizes(ds, size, split=split)
        if anchors == "auto":
            fit = kmeans_anchors(wh, k, scales=scales, seed=seed)
        else:
            fit = anchor_fit(wh, YOLOV3_ANCHORS, scales=3) if len(wh) else None
        values: Any = YOLOV3_ANCHORS if fit is None else fit.anchors
    else:
        values = read_anchors(anchors) if isinstance(anchors, str | Path) else np.asarray(anchors, dtype=np.float64)
        fit = None
    strides = default_strides(scales)
    layout = anchor_layout(values, img_size=size, strides=strides, num_classes=num_classes, assign=assign, keep=keep)
    return layout, fit


@dataclass(frozen=True)
class EncodedDataset:
    """A dataset's targets (`Targets` keyed by image_id) with what the encoder skipped or clipped.

    Attributes:
        images: the dataset's images with sizes and letterbox parameters (`PreparedBoxes`).
        boxes: the boxes given to `encode`: index ``annotation_id``, ``image_id``,
            ``x_min, y_min, x_max, y_max`` in network pixels.
        categories: ``category_id`` index with ``name`` and ``class_index``.
        fit: the anchors' fit on the boxes when anchors were computed or defaulted (else None).
    """

    targets: Targets
    images: pd.DataFrame
    boxes: pd.DataFrame
    categories: pd.DataFrame
    skipped: pd.DataFrame
    clipped: pd.DataFrame
    root: Path | None = None
    fit: AnchorFit | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        return self.targets.layout

    def split_names(self) -> npt.NDArray[np.object_]:
        """Split name per image (``all`` when the dataset has none, ``unassigned`` for gaps)."""
        split = self.images["split"]
        if split.isna().all():
            return np.full(len(split), "all", dtype=object)
        return split.fillna("unassigned").to_numpy(dtype=object)

    def to_dict(self, *, listed: int | None = LISTED) -> dict[str, Any]:
        """Report: counts per split, collisions, dropped boxes by reason and listed with ids."""
        t = self.targets
        splits = pd.Series(self.split_names(), index=self.images.index)
        row_split = splits.reindex(t.image).to_numpy()
        per_split = {}
        for name in sorted(set(splits), key=lambda s: ({"train": 0, "val": 1, "test": 2}.get(s, 3), s)):
            in_split = row_split == name
            per_split[name] = {
                "images": int((splits == name).sum()),
                "rows": int(in_split.sum()),
                "boxes": len(np.unique(t.annotation_id[in_split])),
            }
        dropped = t.dropped.rename(columns={"image": "image_id"})
        records = dropped.head(listed) if listed is not None else dropped
        return {
            "layout": self.layout.to_dict(),
            "images": len(self.images),
            "boxes": t.num_boxes,
            "encoded_boxes": t.num_boxes - len(dropped),
            "rows": len(t),
            "collisions": t.collisions,
            "dropped": {str(k): int(v) for k, v in dropped["reason"].value_counts(sort=False).items() if v},
            "dropped_boxes": [
                {k: (str(v) if k == "reason" else int(v)) for k, v in row.items()}
                for row in records.to_dict(orient="records")
            ],
            "clipped": len(self.clipped),
            "clipped_boxes": self.clipped["annotation_id"].head(listed).tolist(),
            "skipped": {str(k): int(v) for k, v in self.skipped["reason"].value_counts().sort_index().items()},
            "splits": per_split,
            "anchor_fit": None if self.fit is None else self.fit.to_dict(),
            "notes": list(self.notes),
        }


def encode_dataset(ds: Dataset, layout: Layout, *, fit: AnchorFit | None = None) -> EncodedDataset:
    """Encode every image's boxes of `ds` on `layout` (one vectorized `encode` call).

    Targets' image keys are image ids; class_index follows `Dataset.class_index` (category_id order).

    Raises:
        UsageError: the layout's class count differs from the dataset's categories.
        InputError: an image with boxes has no known size (see `prepare_boxes`).
    """
    if layout.num_classes != len(ds.categories):
        raise UsageError(f"layout has {layout.num_classes} classes, the dataset {len(ds.categories)}")
    prepared = prepare_boxes(ds, layout.img_size)
    targets = encode(
        prepared.xyxy, prepared.class_index, layout, image=prepared.image_id, annotation_id=prepared.annotation_id
    )
    categories = ds.categories[["name"]].assign(class_index=ds.class_index())
    notes = list(prepared.notes)
    if fit is not None and fit.bpr < 0.98:
        notes.append(f"anchors reach only {fit.bpr:.1%} of boxes at ratio {fit.ratio_threshold:g} (BPR < 98%)")
    boxes = pd.DataFrame(
        prepared.xyxy, columns=BOX_COLUMNS, index=pd.Index(prepared.annotation_id, name="annotation_id")
    )
    boxes.insert(0, "image_id", prepared.image_id)
    return EncodedDataset(
        targets=targets,
        images=prepared.images,
        boxes=boxes,
        categories=categories,
        skipped=prepared.skipped,
        clipped=prepared.clipped,
        root=ds.root,
        fit=fit,
        notes=notes,
    )


def _as_dataset(src: Dataset | str | Path, from_format: str) -> Dataset:
    if isinstance(src, Dataset):
        return src
    from dataprep.formats import read

    return read(src, from_format)


def fit_anchors(
    src: Dataset | str | Path,
    *,
    k: int = 9,
    img_size: int = 416,
    scales: int = 3,
    given: npt.ArrayLike | None = None,
    seed: int = 0,
    restarts: int = 5,
    from_format: str = "auto",
) -> dict[str, Any]:
    """``dataprep anchors``: k-means anchors for a dataset and how they and a given set fit its boxes.

    Boxes are letterboxed to `img_size` (the anchors are pixels at that size); the train split
    is used when the dataset has one.

    Returns:
        ``anchors`` ``[[w, h], ...]``, ``scale``, ``mean_iou``, ``bpr``, ``anchors_above_threshold``
        of the computed set, and ``given``: the same for `given` (YOLOv3's anchors by default).

    Raises:
        UsageError: no usable box, `k` above the distinct box sizes, `k` not a multiple of `scales`.
    """
    ds = _as_dataset(src, from_format)
    split = "train" if "train" in ds.splits else None
    wh = box_sizes(ds, img_size, split=split)
    if not len(wh):
        raise UsageError(f"{ds.root or 'dataset'}: no box to compute anchors from (only image-level labels?)")
    fit = kmeans_anchors(wh, k, scales=scales, seed=seed, restarts=restarts)
    given_arr = np.asarray(YOLOV3_ANCHORS if given is None else given, dtype=np.float64).reshape(-1, 2)
    given_scales = scales if len(given_arr) % scales == 0 else 1
    out = fit.to_dict()
    out.update(
        img_size=img_size,
        split=split or "all",
        seed=seed,
        restarts=restarts,
        given={
            "source": "yolov3" if given is None else "given",
            **anchor_fit(wh, given_arr, scales=given_scales).to_dict(),
        },
    )
    return out


def encode_folder(
    src: Dataset | str | Path,
    out_dir: str | Path,
    *,
    from_format: str = "auto",
    dense: bool = False,
    max_dense_bytes: int | None = None,
    show: int | None = None,
    png: str | Path | None = None,
    overwrite: bool = False,
    **layout_choices: Any,
) -> dict[str, Any]:
    """``dataprep encode``: read, build the layout (`make_layout`), encode, write (`write_targets`), draw.

    Args:
        layout_choices: `make_layout`'s keyword choices (``grid``, ``anchors``, ``img_size``,
            ``predictors``, ``scales``, ``k``, ``assign``, ``keep``, ``seed``, ``wh_units``), its defaults.

    Returns:
        The report (`EncodedDataset.to_dict`) plus ``out``, ``files`` and ``png``.

    Raises:
        UsageError: a bad layout choice, ``show`` without ``png``, dense output too large.
        InputError, OutputError: unreadable input; output exists without `overwrite`.
    """
    from dataprep.encoding.export import MAX_DENSE_BYTES, check_dense, plot_assignment, write_targets

    if (show is None) != (png is None):
        raise UsageError("--show IMAGE_ID and --png FILE go together: give both to draw an assignment")
    ds = _as_dataset(src, from_format)
    layout, fit = make_layout(ds, **layout_choices)
    result = encode_dataset(ds, layout, fit=fit)
    limit = MAX_DENSE_BYTES if max_dense_bytes is None else max_dense_bytes
    if dense:
        check_dense(result, limit)  # refuse before drawing or writing anything
    if show is not None and show not in result.images.index:
        raise UsageError(f"--show {show}: no such image_id (ids such as {result.images.index[:5].tolist()})")
    for path in (Path(out_dir), None if png is None else Path(png)):
        if path is not None and path.exists() and not overwrite:
            raise OutputError(f"{path}: already exists. Choose another output or pass --overwrite.")
    drawn = None if show is None or png is None else plot_assignment(result, show, png, overwrite=overwrite)
    written = write_targets(result, out_dir, dense=dense, max_dense_bytes=limit, overwrite=overwrite)
    report = result.to_dict()
    report.update(out=str(out_dir), files=written["files"], dense_bytes=written["dense_bytes"])
    report["png"] = None if drawn is None else str(drawn)
    return report
