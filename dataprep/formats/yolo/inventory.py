"""What resolving a YOLO layout yields (`Layout`), and the one-split-per-image rule all layouts share."""

from __future__ import annotations

from dataclasses import dataclass, field

from dataprep.formats.base import SPLIT_ALIASES, UNASSIGNED_SPLIT
from dataprep.formats.yolo._common import Listing, ReadContext, relative


@dataclass(frozen=True)
class Layout:
    """What the layout resolution found: the images (with splits) and the class names.

    `image_paths` are absolute and normalized, in the order the config lists them;
    `image_splits` holds one split (or None) per image. `listing` caches the folders looked at.
    """

    kind: str  # "ultralytics", "darknet" or "loose"
    root: str
    config: str | None
    image_paths: tuple[str, ...]
    image_splits: tuple[str | None, ...]
    names: dict[int, str] | None
    names_source: str | None
    listing: Listing = field(repr=False, compare=False)
    keypoints: int = 0  # numbers per row after the box in a pose dataset (kpt_shape)
    keypoint_dim: int = 0  # numbers per keypoint: 2 (x y) or 3 (x y visibility); 0 when not a pose dataset


def split_from_path(rel: str) -> str | None:
    """The split a relative image path's folders name (``images/valid/a.jpg`` -> ``val``), or None."""
    for part in rel.split("/")[:-1]:
        if part.lower() in SPLIT_ALIASES:
            return SPLIT_ALIASES[part.lower()]
    return None


def assign_splits(
    per_key: dict[str, list[str]], root: str, ctx: ReadContext
) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """One split per image: ``(image paths, splits)``; an image listed under several keys is kept once.

    When every key lists the same images (a dataset without a held-out set, written as
    ``train: images`` and ``val: images``), the images get no split, unless their folders name one.
    """
    keys = list(per_key)
    same = len(keys) > 1 and all(set(per_key[k]) == set(per_key[keys[0]]) for k in keys[1:])
    chosen: dict[str, str | None] = {}
    shared = 0
    for key in keys:
        # "unassigned" is where writers put images without a split (base.image_layout)
        split = None if key == UNASSIGNED_SPLIT else SPLIT_ALIASES.get(key, key) if key != "minival" else key
        for p in per_key[key]:
            if p in chosen:
                shared += 1
                continue
            chosen[p] = None if same else split
    if same:
        for p, rel in zip(list(chosen), relative(list(chosen), root), strict=True):
            chosen[p] = split_from_path(rel)
        named = sum(v is not None for v in chosen.values())
        ctx.notes.append(
            f"{' and '.join(keys)} list the same images: read "
            + (f"splits from folder names ({named} images)" if named else "without splits")
        )
    elif shared:
        ctx.notes.append(
            f"{shared} images listed under several splits: each kept once, in the first ({', '.join(keys)})"
        )
    return tuple(chosen), tuple(chosen.values())
