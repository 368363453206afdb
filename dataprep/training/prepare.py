"""From a dataset and a config to what `fit` needs: splits, task, net meta (class map, input size,
anchor layout) and the torch datasets of each split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.data import ClassificationData, DetectionData, image_channels
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.nets import CLASSIFIERS, DETECTORS
from dataprep.training.config import TrainConfig


def prepare_dataset(data: Dataset | str | Path, config: TrainConfig) -> Dataset:
    """The dataset with train/val(/test) splits, split in memory when `config.split_ratios` says so.

    Raises:
        UsageError: no train and val split and no `split_ratios`.
    """
    if isinstance(data, Dataset):
        ds = data
    else:
        from dataprep.formats import read

        ds = read(data)
    if config.split_ratios is not None:
        from dataprep.splits import parse_ratios, split

        ratios = parse_ratios(config.split_ratios, option="--split-ratios")
        ds = split(ds, ratios=ratios, seed=config.seed)
    missing = [s for s in ("train", "val") if s not in ds.splits]
    if missing:
        have = ", ".join(ds.splits) or "none"
        raise UsageError(
            f"{data if not isinstance(data, Dataset) else 'the dataset'}: no {' or '.join(missing)} split "
            f"(splits: {have}). Run `dataprep split` first, or pass --split-ratios 70,20,10 to split in memory"
        )
    return ds


def _split(ds: Dataset, name: str) -> Dataset:
    return ds.select_images((ds.images["split"] == name).fillna(False).to_numpy(dtype=bool))


def _default_img_size(ds: Dataset, task: str) -> int:
    if task == "detection":
        return 128
    widths = ds.images["width"].dropna()
    if len(widths):
        side = int(max(widths.max(), ds.images["height"].dropna().max()))
    else:
        from dataprep.files import probe_image

        header = probe_image(ds.resolve(ds.images["file_name"].iloc[0]))
        side = max(header.width, header.height)
    return int(min(64, max(8, side)))


@dataclass
class Setup:
    """Everything `fit` and the test evaluation need, built once from data and config."""

    task: str
    meta: dict[str, Any]
    train: Any
    val: Any
    test: Any
    datasets: dict[str, Dataset]
    layout: Any = None


def make_setup(ds: Dataset, config: TrainConfig) -> Setup:
    task = "detection" if ds.has_boxes else "classification"
    if task == "detection" and config.model not in DETECTORS:
        raise UsageError(f"--model {config.model}: the data has boxes; use --model {DETECTORS[0]}")
    if task == "classification" and config.model not in CLASSIFIERS:
        raise UsageError(
            f"--model {config.model}: the data has image-level labels, not boxes; use one of {', '.join(CLASSIFIERS)}"
        )
    img_size = config.img_size or _default_img_size(ds, task)
    channels = image_channels(ds)
    class_map = ds.class_index()
    meta: dict[str, Any] = {
        "task": task,
        "model": config.model,
        "net_options": dict(config.net_options),
        "img_size": img_size,
        "in_channels": channels,
        "category_ids": ds.categories.index.tolist(),
        "category_names": ds.categories["name"].astype(str).tolist(),
        "conf_threshold": config.conf_threshold,
        "iou_threshold": config.iou_threshold,
        "layout": None,
    }
    pipeline = None
    if config.augment:
        from dataprep.augmentation import load_pipeline

        pipeline = load_pipeline(config.augment)
    parts = {name: _split(ds, name) for name in ("train", "val", "test")}
    common = {"img_size": img_size, "channels": channels}
    if task == "classification":
        make = ClassificationData
        layout = None
    else:
        from dataprep.encoding import anchor_layout, box_sizes, kmeans_anchors

        if img_size % config.stride:
            raise UsageError(f"--img-size {img_size}: must be a multiple of the stride {config.stride}")
        wh = box_sizes(parts["train"], img_size)
        if len(wh) < config.anchors:
            raise UsageError(f"the train split has {len(wh)} boxes: too few to fit {config.anchors} anchors")
        fit = kmeans_anchors(wh, config.anchors, scales=1, seed=config.seed)
        layout = anchor_layout(fit.anchors, img_size=img_size, strides=(config.stride,), num_classes=len(class_map))
        meta["layout"] = layout.to_dict()
        make = DetectionData
    train = make(parts["train"], class_map, **common, pipeline=pipeline, seed=config.seed)
    val = make(parts["val"], class_map, **common)
    test = make(parts["test"], class_map, **common) if len(parts["test"].images) else None
    return Setup(task, meta, train, val, test, parts, layout)
