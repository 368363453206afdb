"""torch adapters: a `Dataset`'s tables (+ online augmentation, + YOLO encoding) -> tensors.

- `ClassificationData`: ``(C, S, S)`` float32 image in 0..1 and its ``class_index`` (the first
  image-level label of each image; images without one are left out and counted).
- `DetectionData`: the letterboxed ``(C, S, S)`` image and its boxes in network pixels;
  `DetectionCollate` stacks a batch and encodes its targets with `dataprep.encoding.encode`.
- `EpochSampler`: the order of an epoch, ``np.random.default_rng([seed, epoch])``: nothing to
  save for a resume but the epoch number, and ranks of a distributed run take every k-th index.

Images are decoded once, into memory (the bundled samples and benches are a few MB). Augmentation
draws from ``np.random.default_rng([seed, image_id, epoch])`` per sample, so batches do not
depend on worker count or order. Loaders run in the main process (``num_workers=0``): on a
2-core machine workers on top of two intra-op threads were measured 6x slower.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from dataprep.augmentation.pipeline import Pipeline
from dataprep.augmentation.runner import load_image
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.encoding import Layout, encode, letterbox, letterbox_image
from dataprep.errors import InputError

ImageArray = npt.NDArray[np.uint8]


def _to_channels(image: ImageArray, channels: int) -> ImageArray:
    """``(H, W, c)`` uint8 -> ``(H, W, channels)``: grey repeated to RGB, RGB averaged to grey (luma)."""
    if image.shape[2] == channels:
        return image
    if channels == 3:
        return np.repeat(image, 3, axis=2)
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[:, :, None]


def _resize(image: ImageArray, img_size: int) -> ImageArray:
    if image.shape[0] == image.shape[1] == img_size:
        return image
    from PIL import Image

    out = np.asarray(Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).resize(
        (img_size, img_size), Image.Resampling.BILINEAR
    ))  # fmt: skip
    return out[:, :, None] if out.ndim == 2 else out


def _tensor(image: ImageArray) -> torch.Tensor:
    """``(H, W, C)`` uint8 -> ``(C, H, W)`` float32 in 0..1."""
    return torch.from_numpy(image.transpose(2, 0, 1).copy()).float().div_(255.0)


def image_channels(ds: Dataset, *, probe: int = 20) -> int:
    """3 if any of the first `probe` image files of `ds` is colour (Pillow reads only the header), else 1."""
    from PIL import Image

    for name in ds.images["file_name"].head(probe):
        try:
            with Image.open(ds.resolve(name)) as im:
                if im.mode not in ("L", "1", "I;16", "I", "LA"):
                    return 3
        except OSError:
            raise InputError(ds.resolve(name), "not a readable image", hint="Run `dataprep validate`") from None
    return 1


def _load_all(ds: Dataset, channels: int) -> list[ImageArray]:
    return [_to_channels(load_image(ds.resolve(name)), channels) for name in ds.images["file_name"]]


class EpochSampler(Sampler[int]):
    """Seeded per-epoch permutation (``default_rng([seed, epoch])``), sliced ``rank::world`` for DDP."""

    def __init__(self, n: int, *, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1) -> None:
        self.n, self.seed, self.shuffle, self.rank, self.world = n, seed, shuffle, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        if self.world > 1:  # pad to a multiple of world so every rank steps the same number of times
            order = np.resize(order, -(-self.n // self.world) * self.world)[self.rank :: self.world]
        return iter(order.tolist())

    def __len__(self) -> int:
        return -(-self.n // self.world)


class ClassificationData(TorchDataset):
    """Images of `ds` with one label each, as ``((C, S, S) float32, class_index)`` pairs.

    Args:
        ds: the images to serve (e.g. one split); labels are its image-level annotations.
        class_map: ``category_id -> class_index`` (`Dataset.class_index` of the whole dataset).
        img_size: S; images are resized (bilinear) to ``S x S``.
        channels: 1 or 3.
        pipeline: online augmentation, applied to the decoded image before the resize.
        seed: augmentation seed; call `set_epoch` every epoch.
        keep_unlabelled: serve images without a label too (label -1), for prediction.
    """

    def __init__(
        self,
        ds: Dataset,
        class_map: pd.Series,
        *,
        img_size: int,
        channels: int,
        pipeline: Pipeline | None = None,
        seed: int = 0,
        keep_unlabelled: bool = False,
    ) -> None:
        anns = ds.annotations
        first = anns[anns["category_id"].isin(class_map.index)].drop_duplicates("image_id", keep="first")
        labels = first.set_index("image_id")["category_id"].map(class_map)
        keep = np.ones(len(ds.images), bool) if keep_unlabelled else ds.images.index.isin(labels.index)
        self.dataset = ds.select_images(keep)
        self.unlabelled = int((~ds.images.index.isin(labels.index)).sum())
        self.image_ids = self.dataset.images.index.to_numpy(dtype=np.int64)
        self.labels = labels.reindex(self.image_ids).fillna(-1).to_numpy(dtype=np.int64)
        self.img_size, self.channels, self.pipeline, self.seed, self.epoch = img_size, channels, pipeline, seed, 0
        raw = _load_all(self.dataset, channels)
        self.images = raw if pipeline is not None else [_resize(im, img_size) for im in raw]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        if self.pipeline is not None:
            rng = np.random.default_rng([self.seed, int(self.image_ids[i]), self.epoch])
            image = _resize(_to_channels(self.pipeline(image, rng=rng).image, self.channels), self.img_size)
        return _tensor(image), int(self.labels[i])


class DetectionData(TorchDataset):
    """Letterboxed images of `ds` and their boxes in network pixels.

    Items are ``(image (C, S, S) float32, xyxy (M, 4) float64 network px, class_index (M,), image_id)``.
    Crowd and image-level annotations are left out; boxes are clipped to their image first.
    """

    def __init__(
        self,
        ds: Dataset,
        class_map: pd.Series,
        *,
        img_size: int,
        channels: int,
        pipeline: Pipeline | None = None,
        seed: int = 0,
    ) -> None:
        self.dataset = ds
        self.image_ids = ds.images.index.to_numpy(dtype=np.int64)
        self.img_size, self.channels, self.pipeline, self.seed, self.epoch = img_size, channels, pipeline, seed, 0
        anns = ds.annotations
        use = anns[BOX_COLUMNS].notna().all(axis=1) & ~anns["iscrowd"] & anns["category_id"].isin(class_map.index)
        anns = anns[use]
        self.boxes = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
        self.classes = anns["category_id"].map(class_map).to_numpy(dtype=np.int64)
        keys = anns["image_id"].to_numpy()
        self.starts = np.searchsorted(keys, self.image_ids, side="left")
        self.stops = np.searchsorted(keys, self.image_ids, side="right")
        self.images = _load_all(ds, channels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, npt.NDArray[np.float64], npt.NDArray[np.int64], int]:
        image = self.images[i]
        xyxy = self.boxes[self.starts[i] : self.stops[i]]
        cls = self.classes[self.starts[i] : self.stops[i]]
        height, width = image.shape[:2]
        xyxy = np.clip(xyxy, 0, [width, height, width, height])
        if self.pipeline is not None:
            rng = np.random.default_rng([self.seed, int(self.image_ids[i]), self.epoch])
            out = self.pipeline(image, xyxy, None, cls, rng=rng)
            image, xyxy, cls = _to_channels(out.image, self.channels), out.boxes_xyxy, out.category_ids
            height, width = image.shape[:2]
        net = letterbox(xyxy, width, height, img_size=self.img_size)
        ok = (net[:, 2] > net[:, 0]) & (net[:, 3] > net[:, 1])
        return _tensor(letterbox_image(image, img_size=self.img_size)), net[ok], cls[ok], int(self.image_ids[i])


class DetectionCollate:
    """Stack a detection batch and encode its targets on `layout` (`dataprep.encoding.encode`).

    Returns a dict: ``images`` ``(N, C, S, S)``; ``gt_boxes`` ``(N, M, 4)`` float32 network px,
    zero-padded; ``targets`` (`Targets` columns as tensors, ``image`` = batch position);
    ``image_ids`` ``(N,)`` int64.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def __call__(self, batch: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
        images = torch.stack([b[0] for b in batch])
        counts = [len(b[1]) for b in batch]
        xyxy = np.concatenate([b[1] for b in batch]) if batch else np.zeros((0, 4))
        cls = np.concatenate([b[2] for b in batch]) if batch else np.zeros(0, np.int64)
        position = np.repeat(np.arange(len(batch)), counts)
        targets = encode(xyxy.reshape(-1, 4), cls, self.layout, image=position)
        gt = torch.zeros(len(batch), max(counts, default=0), 4)
        for k, b in enumerate(batch):
            gt[k, : counts[k]] = torch.from_numpy(b[1]).float()
        columns = {
            name: torch.from_numpy(np.ascontiguousarray(getattr(targets, name)))
            for name in ("image", "scale", "slot", "row", "col", "class_index")
        }
        for name in ("tx", "ty", "tw", "th", "weight"):
            columns[name] = torch.from_numpy(getattr(targets, name).astype(np.float32))
        ids = torch.tensor([b[3] for b in batch], dtype=torch.int64)
        return {"images": images, "gt_boxes": gt, "targets": columns, "image_ids": ids}


def classification_collate(batch: Sequence[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
    """``{"images": (N, C, S, S), "labels": (N,) int64}``."""
    return {"images": torch.stack([b[0] for b in batch]), "labels": torch.tensor([b[1] for b in batch])}
