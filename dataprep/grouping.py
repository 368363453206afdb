"""Leak groups for splitting: images that must land in the same split, joined into units.

Images are joined (connected components over "same" pairs) when they share a ``--group-by`` value
(``images.group``, an image or annotation attribute, or a regex on the file name), when their
files have identical bytes (content digest), and optionally when their pixels are nearly
identical (64-bit difference hashes within a Hamming distance). `dataprep.splits` then
stratifies units, never single images, so no group and no content can appear in two splits;
`check_leaks` proves it again on the result.

Only content grouping reads files (`dataprep.hashes`); nothing prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import UsageError

__all__ = ["Units", "check_leaks", "components", "find_units", "parse_near_duplicates"]

_REGEX_CHARS = re.compile(r"[\\^$()\[\]{}*+?|]")


@dataclass
class Units:
    """Images joined into units that a split keeps whole."""

    labels: npt.NDArray[np.int64]  # (N_images,) unit of each image
    content_pairs: npt.NDArray[np.int64]  # (M, 2) image positions with identical bytes
    near_pairs: npt.NDArray[np.int64]  # (K, 2) image positions within the dHash threshold
    groups: dict[str, Any]  # what was joined, for the report
    content_checked: bool  # False when no image file was looked at (labels only)
    notes: list[str]


def parse_near_duplicates(value: int | str | None) -> int | None:
    """`near_duplicates` as bits 0..64, or None for ``None``/``"off"``."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= 64:
        raise UsageError(
            f"--near-duplicates {value!r}: 'off' or a Hamming distance 0..64 between 64-bit difference hashes. "
            "Try 4 for resized or re-encoded copies"
        )
    return int(text)


def find_units(ds: Dataset, *, group_by: str | None, content: bool, near_duplicates: int | None) -> Units:
    """Join `ds`'s images into units: its own ``group`` column, `group_by`, identical and near-identical files.

    Args:
        ds: the dataset; image files resolve against ``ds.root``.
        group_by: see `dataprep.splits.split_with_report`; None for none.
        content: look at the image files; False for labels only (noted, never an error).
        near_duplicates: Hamming distance 0..64 between difference hashes, or None to skip.

    Raises:
        UsageError: `group_by` is neither a known field nor a regex with a match.
    """
    n = len(ds.images)
    notes: list[str] = []
    groups: dict[str, Any] = {}
    parts = _key_groups(ds, group_by, groups, notes)
    content_pairs = near_pairs = np.empty((0, 2), dtype=np.int64)
    checked = False
    if not content:
        near = " or near-identical" if near_duplicates is not None else ""
        notes.append(f"content grouping skipped: labels only (images none), identical{near} images are not detected")
    elif ds.root is None:
        notes.append("content grouping skipped: the dataset has no image folder (root)")
    elif n:
        checked, content_pairs, near_pairs = _content_pairs(ds, near_duplicates, notes)
        parts += [content_pairs, near_pairs]
    pairs = np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)
    labels = components(n, pairs)
    if checked:
        groups["identical_content"] = {  # pairs are (first copy, other copy)
            "sets": len(np.unique(content_pairs[:, 0])),
            "images": len(np.unique(content_pairs)),
        }
        if near_duplicates is not None:
            groups["near_duplicates"] = {"threshold": near_duplicates, "pairs": len(near_pairs)}
    return Units(labels, content_pairs, near_pairs, groups, checked, notes)


def _key_groups(
    ds: Dataset, group_by: str | None, groups: dict[str, Any], notes: list[str]
) -> list[npt.NDArray[np.int64]]:
    """Pairs of images sharing ``images.group`` (always honoured) or a `group_by` key; counts go to `groups`."""
    n = len(ds.images)
    parts = []
    own = ds.images["group"]
    if group_by != "group" and own.notna().any():  # the model's leak groups always hold (validate checks them)
        pairs, multi = _key_pairs(own.astype(object), np.arange(n, dtype=np.int64))
        parts.append(pairs)
        groups["dataset_groups"] = multi
        notes.append(f"kept the dataset's own leak groups (images.group): {multi:,} span several images")
    if group_by is not None:
        keys, key_pos, described = _group_keys(ds, group_by)
        pairs, multi = _key_pairs(keys, key_pos)
        parts.append(pairs)
        keyed = np.zeros(n, dtype=bool)
        keyed[key_pos[keys.notna().to_numpy()]] = True
        without = int(n - keyed.sum())
        groups["by_field"] = {"source": described, "groups": multi, "images_without_key": without}
        if without:
            notes.append(f"{without:,} images have no {described} value: each is its own group")
    return parts


def _content_pairs(
    ds: Dataset, near_duplicates: int | None, notes: list[str]
) -> tuple[bool, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Whether any file was found, then ``(M, 2)`` identical-byte pairs and ``(K, 2)`` near-duplicate pairs."""
    from dataprep import hashes

    empty = np.empty((0, 2), dtype=np.int64)
    n = len(ds.images)
    paths = [ds.resolve(name) for name in ds.images["file_name"].astype(object)]
    sizes = hashes.file_sizes(paths)
    present = sizes >= 0
    if not present.any():
        notes.append("content grouping skipped: no image file found (labels only)")
        return False, empty, empty
    if not present.all():
        notes.append(f"{int((~present).sum()):,} of {n:,} image files not found: they are grouped by labels only")
    content_pairs = hashes.duplicate_pairs(paths, sizes)
    near_pairs = empty
    if near_duplicates is not None:
        where = np.flatnonzero(present)
        values, ok = hashes.dhashes([paths[i] for i in where])
        found = hashes.near_duplicate_pairs(values, near_duplicates, valid=ok)
        near_pairs = where[found] if len(found) else found
        if (~ok).any():
            notes.append(f"{int((~ok).sum()):,} images could not be decoded for near-duplicate hashing")
    return True, content_pairs, near_pairs


def components(n: int, pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Connected components of ``n`` nodes joined by ``(M, 2)`` pairs: labels 0..G-1 by first node."""
    parent = np.arange(n, dtype=np.int64)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        while True:  # hook each edge's roots to the smaller one, then jump pointers to the roots
            low = np.minimum(parent[a], parent[b])
            np.minimum.at(parent, parent[a], low)
            np.minimum.at(parent, parent[b], low)
            while True:
                grand = parent[parent]
                if (grand == parent).all():
                    break
                parent = grand
            if (parent[a] == parent[b]).all():
                break
    return np.unique(parent, return_inverse=True)[1].astype(np.int64)


def _key_pairs(keys: pd.Series, pos: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Pairs of image positions `pos` sharing a non-null key, and how many keys span two or more images."""
    codes, _ = pd.factorize(keys, use_na_sentinel=True)
    has = codes >= 0
    if not has.any():
        return np.empty((0, 2), dtype=np.int64), 0
    codes, pos = codes[has], np.asarray(pos, dtype=np.int64)[has]
    head = np.full(codes.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(head, codes, pos)
    first = head[codes]
    dup = first != pos
    spanning = np.unique(codes[dup])
    return np.stack([first[dup], pos[dup]], axis=1), len(spanning)


def _group_keys(ds: Dataset, group_by: str) -> tuple[pd.Series, npt.NDArray[np.int64], str]:
    """Leak-group keys named by `group_by`, the image position of each key, and what they were.

    Image fields give one key per image; an annotation attribute (a track or patient id on
    each object) gives one per annotation, and images sharing any value are joined.

    Raises:
        UsageError: `group_by` is neither a known field nor a regex with a match.
    """
    images = ds.images
    every = np.arange(len(images), dtype=np.int64)
    if group_by == "group":
        return images["group"].astype(object), every, "field 'group'"
    attrs = images["attributes"]
    fields = sorted({k for a in attrs if isinstance(a, dict) for k in a})
    if group_by in fields:
        keys = attrs.map(lambda a: a.get(group_by) if isinstance(a, dict) else None)
        return keys.map(lambda v: None if v is None else str(v)).astype(object), every, f"image field {group_by!r}"
    ann_attrs = ds.annotations["attributes"]
    ann_fields = sorted({k for a in ann_attrs if isinstance(a, dict) for k in a})
    if group_by in ann_fields:
        keys = ann_attrs.map(lambda a: a.get(group_by) if isinstance(a, dict) else None)
        keys = keys.map(lambda v: None if v is None else str(v)).astype(object)
        pos = images.index.get_indexer(ds.annotations["image_id"].to_numpy())
        keep = pos >= 0
        return keys[keep], pos[keep], f"annotation field {group_by!r}"
    known = ", ".join(["group", *fields, *(f"{f} (annotations)" for f in ann_fields)])
    if not _REGEX_CHARS.search(group_by):
        raise UsageError(
            f"--group-by {group_by!r}: no image field of that name (fields: {known}) and not a regular expression. "
            r"Pass a field, or a regex on the file name such as '^([^/]+)/' or '(video\d+)_'"
        )
    try:
        rx = re.compile(group_by)
    except re.error as err:
        raise UsageError(f"--group-by {group_by!r}: not a valid regular expression ({err}). Fix the pattern") from None
    index = 1 if rx.groups else 0
    names = images["file_name"].astype(object).tolist()
    found = [m.group(index) if (m := rx.search(n)) is not None else None for n in names]
    if names and all(v is None for v in found):
        raise UsageError(
            f"--group-by {group_by!r}: the regex matches no file name (first: {names[0]!r}). "
            "Fix the pattern; its first (...) group, or the whole match, is the group"
        )
    return pd.Series(found, index=images.index, dtype=object), every, f"regex {group_by!r} on file names"


def check_leaks(units: Units, image_split: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Check the result again: identical content and groups each in one split."""
    out: dict[str, Any] = {"content_checked": units.content_checked}
    pairs = units.content_pairs
    crossing = int((image_split[pairs[:, 0]] != image_split[pairs[:, 1]]).sum()) if len(pairs) else 0
    out["identical_images_across_splits"] = crossing if units.content_checked else None
    if units.content_checked:
        out["statement"] = (
            "no image content appears in two splits"
            if crossing == 0
            else f"{crossing:,} identical images are in two splits (kept from their existing splits)"
        )
    else:
        out["statement"] = "image content not checked (labels only)"
    unit_splits = pd.Series(image_split).groupby(units.labels).nunique()
    out["groups_across_splits"] = int((unit_splits > 1).sum())
    return out
