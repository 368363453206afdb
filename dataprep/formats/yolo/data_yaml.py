"""The Ultralytics layout: what a ``data.yaml`` names (class names, the ``path`` root, the images of each split).

A split entry is a folder of images, a ``.txt`` list of images, one image, or a list of those;
labels are found by replacing the last ``images`` path component with ``labels``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dataprep.errors import InputError
from dataprep.files import read_yaml
from dataprep.formats.yolo import names as class_names
from dataprep.formats.yolo._common import NOT_LABELS, Listing, ReadContext, is_image
from dataprep.formats.yolo.inventory import Layout, assign_splits
from dataprep.formats.yolo.paths import label_dirs, list_file, norm_parts, resolve, resolved, walk_images

# data.yaml keys that are not splits (the rest are, when their value names existing images).
_YAML_RESERVED = frozenset(
    {"path", "names", "nc", "download", "kpt_shape", "flip_idx", "channels", "yaml_file", "roboflow", "license", "url"}
)
_YAML_SPLITS = ("train", "val", "test", "minival")


def ultralytics_layout(config: str, ctx: ReadContext, listing: Listing) -> Layout:
    """The layout a data.yaml describes: names, the ``path`` root, and the images of each split key.

    Raises:
        InputError: not a mapping, no names, no split that lists images, or a split entry of the wrong kind.
    """
    doc = read_yaml(config)[0]  # refuses alias bombs and deep nesting before building anything
    if not isinstance(doc, dict):
        raise InputError(
            config,
            f"expected a mapping of keys (train, val, names...), got {type(doc).__name__}",
            hint="See https://docs.ultralytics.com/datasets/detect/ for the data.yaml keys",
        )
    ydir = os.path.dirname(config)
    names = class_names.from_yaml(doc, config, ctx)
    keypoints = 0
    kpt = doc.get("kpt_shape")
    if isinstance(kpt, list) and kpt and all(isinstance(k, int) and k > 0 for k in kpt):
        keypoints = int(np.prod(kpt))
        if len(kpt) == 2 and kpt[1] in (2, 3):
            ctx.notes.append(f"pose dataset (kpt_shape {kpt}): keypoints kept as COCO keypoints [x, y, v, ...]")
        else:
            ctx.notes.append(f"pose dataset (kpt_shape {kpt}): not [K, 2] or [K, 3], keypoints not read")
    bases = _yaml_bases(doc, ydir, ctx)
    if "val" not in doc and "validation" in doc:
        doc["val"] = doc.pop("validation")
    keys = _yaml_split_keys(doc, bases, ctx)
    per_key = {key: _yaml_split_images(doc, key, config, bases, ctx, listing) for key in keys}
    if not per_key:
        raise InputError(
            config,
            "no split lists images (train, val, test are all missing or empty)",
            record="train",
            hint="Add train: images/train (a folder, a .txt list of images, or a list of those)",
        )
    paths, splits = assign_splits(per_key, bases[0], ctx)
    dim = int(kpt[1]) if keypoints and len(kpt) == 2 and kpt[1] in (2, 3) else 0
    return Layout(
        "ultralytics", bases[0], config, paths, splits, names, os.path.basename(config), listing, keypoints, dim
    )


def _yaml_bases(doc: dict[str, Any], ydir: str, ctx: ReadContext) -> list[str]:
    """Folders split entries are resolved from: data.yaml's ``path`` (when it exists), then its own folder."""
    root_text = doc.get("path")
    if isinstance(root_text, str) and root_text.strip():
        candidate = root_text if os.path.isabs(root_text) else os.path.join(ydir, root_text)
        if os.path.isdir(candidate):
            return [os.path.normpath(candidate), ydir]
        ctx.notes.append(f"data.yaml path {root_text!r} not found: split folders resolved from the data.yaml folder")
    return [ydir]


def _yaml_split_keys(doc: dict[str, Any], bases: list[str], ctx: ReadContext) -> list[str]:
    """train/val/test/minival when set, then other keys whose values name existing images (noted otherwise)."""
    split_keys = [k for k in _YAML_SPLITS if doc.get(k)]
    extra = []
    for key, value in doc.items():
        if key in split_keys or key in ("path", "names", "nc", "kpt_shape", *_YAML_SPLITS):
            continue
        entries = value if isinstance(value, list) else [value]
        if key not in _YAML_RESERVED and entries and all(_names_images(e, bases) for e in entries):
            split_keys.append(key)  # a split of its own name (what we write for e.g. "unassigned")
        else:
            extra.append(key)
    if extra:
        ctx.notes.append(f"data.yaml keys not read: {', '.join(sorted(extra))}")
    return split_keys


def _yaml_split_images(
    doc: dict[str, Any], key: str, config: str, bases: list[str], ctx: ReadContext, listing: Listing
) -> list[str]:
    """Absolute image paths of one split key: folders walked, lists read, entries not found reported."""
    value = doc[key]
    entries = value if isinstance(value, list) else [value]
    paths: list[str] = []
    for j, entry in enumerate(entries):
        record = key if not isinstance(value, list) else f"{key}[{j}]"
        if not isinstance(entry, str) or not entry.strip():
            raise InputError(
                config,
                f"{key} must name a folder or a .txt list of images, got {entry!r}",
                record=record,
                hint="Write e.g. train: images/train",
            )
        how = resolve(entry, bases)
        if how is None:
            _report_missing_entry(entry, key, record, config, bases, ctx, listing)
            continue
        target = resolved(entry, how)
        if os.path.isdir(target):
            paths.extend(walk_images(target, listing))
        elif target.lower().endswith(".txt"):
            paths.extend(list_file(target, [os.path.dirname(target), *bases], ctx, listing))
        elif is_image(target):
            paths.append(target)
        else:
            raise InputError(
                config,
                f"{key}: {entry!r} is neither a folder, a .txt list nor an image",
                record=record,
                hint="Point it at the folder of images or at a .txt list of image paths",
            )
    return paths


def _report_missing_entry(
    entry: str, key: str, record: str, config: str, bases: list[str], ctx: ReadContext, listing: Listing
) -> None:
    """A split entry that names nothing: one missing-split finding, and one per label file its label folder holds."""
    orphans = _labels_of_missing_folder(entry, bases, listing)
    held = f"; its label folder holds {len(orphans):,} label files without images" if orphans else ""
    ctx.fail(
        InputError(
            config,
            f"{key}: {entry!r} not found (looked under {bases[0]}){held}",
            record=record,
            hint="Fix the path (relative to the data.yaml folder or its 'path') or remove the key",
        ),
        "missing-split",
    )
    for label in orphans:
        ctx.fail(
            InputError(label, "label file without an image: its boxes cannot be turned into pixels"),
            "label-without-image",
        )


def _labels_of_missing_folder(entry: str, bases: list[str], listing: Listing) -> list[str]:
    """The label files in the label folder of an image folder that does not exist (sorted paths)."""
    folder = norm_parts(entry)
    mirrors = label_dirs("/".join(folder), "/")[:-1]
    for mirror in mirrors:
        how = resolve(mirror, bases, exists=os.path.isdir)
        if how is not None:
            target = resolved(mirror, how)
            txt = sorted(n for n in listing.names(target) if n[-4:].lower() == ".txt" and n.lower() not in NOT_LABELS)
            return [os.path.join(target, n) for n in txt]
    return []


def _names_images(entry: Any, bases: list[str]) -> bool:
    """True when a data.yaml value names an existing folder or .txt list (so its key is a split)."""
    if not isinstance(entry, str) or "://" in entry or "\n" in entry or not entry.strip():
        return False
    how = resolve(entry, bases)
    if how is None:
        return False
    target = resolved(entry, how)
    return os.path.isdir(target) or target.lower().endswith(".txt")
