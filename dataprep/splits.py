"""Seeded, stratified, group-aware, leak-free train/val/test splits.

`split` fills ``images.split`` of a `Dataset`; `split_with_report` also says how well each
class met its target; `split_files` reads a dataset folder, splits it and writes it in any
format. How it works:

1. **Units** (`dataprep.grouping`). Images that must stay together are joined into one unit
   (connected components over "same" pairs): the same ``--group-by`` value (an image field or
   a regex on the file name), identical bytes (content digest), and optionally near-identical
   pixels (difference hash within a Hamming distance). Everything below works on units, never
   on single images.
2. **Stratification** (Sechidis, Tsoumakas & Vlahavas 2011, "On the stratification of
   multi-label data", iterative stratification): classes are taken rarest first (fewest units
   left); the units holding that class, in seeded random order, are shared between the splits
   by what each split still lacks of that class's target. The paper balances image
   *presence*; here each class's boxes (labels for classification) and images are balanced
   together: a unit brings one image and k boxes, so units with k > 1 are cut by their k - 1
   extra boxes against "box need minus image need", then single-box units fill each split's
   remaining box need exactly (largest remainder), and the image need follows. Every class so
   ends within one box of its target in every split, unless earlier, rarer classes already
   overfilled a split. Units with no label fill the image-count targets last. Each step is
   a few vectorized operations per class.
3. **Leaks.** Units are never cut, so no group and no content appears in two splits; the
   report checks it again on the result.

Nothing here reads images unless asked to (content grouping); nothing prints.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import OutputError, UsageError
from dataprep.grouping import check_leaks, find_units, parse_near_duplicates

Stratify = Literal["auto", "class", "none"]
STRATIFY_MODES = ("auto", "class", "none")
DEFAULT_RATIOS: dict[str, float] = {"train": 0.7, "val": 0.2, "test": 0.1}
_DEFAULT_NAMES = {2: ("train", "val"), 3: ("train", "val", "test")}
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = [
    "DEFAULT_RATIOS",
    "STRATIFY_MODES",
    "SplitResult",
    "parse_ratios",
    "split",
    "split_files",
    "split_with_report",
]

# -- ratios ----------------------------------------------------------------------------------


def parse_ratios(value: str | Sequence[float] | Mapping[str, float], *, option: str = "ratios") -> dict[str, float]:
    """Split names and fractions summing to 1, from ``"70,20,10"``, ``"train=80,val=20"``, a list or a dict.

    Two unnamed parts are train/val, three train/val/test; more must be named. Parts are
    percentages when they sum to 100 and fractions when they sum to 1.

    Raises:
        UsageError: a part is not a positive number, names repeat or are not folder-safe, or
            the parts do not sum to 100 (or 1). The message names `option`, the value and the fix.
    """
    shown = (
        value
        if isinstance(value, str)
        else ",".join(f"{k}={v}" for k, v in (value.items() if isinstance(value, Mapping) else enumerate(value)))
    )
    fix = "e.g. 70,20,10, 80,20 or train=70,val=20,test=10"

    def fail(problem: str) -> UsageError:
        return UsageError(f"{option} {shown!r}: {problem}. Give parts that sum to 100 (or 1), {fix}")

    pairs: list[tuple[str | None, Any]]
    if isinstance(value, str):
        pairs = []
        for part in value.split(","):
            name, sep, number = part.partition("=")
            pairs.append((name.strip(), number.strip()) if sep else (None, part.strip()))
    elif isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        pairs = [(None, v) for v in value]
    if len(pairs) < 2:
        raise fail("a split needs at least two parts")
    named = [n is not None for n, _ in pairs]
    if any(named) and not all(named):
        raise fail("name every part or none")
    if not any(named):
        if len(pairs) not in _DEFAULT_NAMES:
            raise fail(f"{len(pairs)} unnamed parts; name them (train=60,val=20,test=10,holdout=10)")
        pairs = list(zip(_DEFAULT_NAMES[len(pairs)], (v for _, v in pairs), strict=True))
    names = [str(n) for n, _ in pairs]
    bad = [n for n in names if not _SPLIT_NAME.match(n)]
    if bad:
        raise fail(f"split name {bad[0]!r} is not a plain folder name (letters, digits, '_', '-', '.')")
    if len(set(names)) < len(names):
        raise fail("split names repeat")
    numbers = []
    for name, raw in pairs:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise fail(f"{raw!r} (for {name}) is not a number") from None
        if not np.isfinite(number) or number <= 0:
            raise fail(f"{name} is {raw!r}; every part must be above 0")
        numbers.append(number)
    total = sum(numbers)
    if abs(total - 100) <= 1e-6:
        scale = 100.0
    elif abs(total - 1) <= 1e-9:
        scale = 1.0
    else:
        raise fail(f"the parts sum to {total:g}, not 100 (or 1)")
    return {name: number / scale for name, number in zip(names, numbers, strict=True)}


# -- assignment ------------------------------------------------------------------------------


def _apportion(weights: npt.NDArray[np.float64], total: int) -> npt.NDArray[np.int64]:
    """Integers summing to `total`, proportional to `weights` (largest remainder, ties to the first)."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0, None)
    if w.sum() <= 0:
        w = np.ones_like(w)
    quota = w / w.sum() * total
    base = np.floor(quota).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        order = np.argsort(-(quota - base), kind="stable")
        base[order[:short]] += 1
    return base


def _cut(weights: npt.NDArray[np.int64], demand: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Split index of each item (in order) so each split's summed weight meets its `demand`.

    Item k goes to the split whose cumulative demand interval holds the middle of item k's own
    interval, so each boundary is off by at most half an item: exact when all weights are 1.
    """
    ends = np.cumsum(weights)
    middle = ends - weights / 2.0
    return np.searchsorted(np.cumsum(demand)[:-1], middle, side="right").astype(np.int64)


@dataclass
class _Tally:
    """What each split holds so far: boxes and units per class, and images."""

    counts: npt.NDArray[np.int64]  # (G, C) boxes (or labels) of each class per unit
    n_images: npt.NDArray[np.int64]  # (G,)
    boxes: npt.NDArray[np.float64]  # (S, C)
    units: npt.NDArray[np.float64]  # (S, C) units holding the class
    images: npt.NDArray[np.float64]  # (S,)

    @classmethod
    def empty(cls, counts: npt.NDArray[np.int64], n_images: npt.NDArray[np.int64], n_splits: int) -> _Tally:
        n_classes = counts.shape[1]
        zeros = np.zeros((n_splits, n_classes), dtype=np.float64)
        return cls(counts, n_images, zeros, zeros.copy(), np.zeros(n_splits, dtype=np.float64))

    def add(self, units: npt.NDArray[np.int64], to: npt.NDArray[np.int64]) -> None:
        """Count units `units` into splits `to`."""
        for s in range(len(self.images)):
            mine = units[to == s]
            if len(mine):
                self.boxes[s] += self.counts[mine].sum(axis=0)
                self.units[s] += (self.counts[mine] > 0).sum(axis=0)
                self.images[s] += self.n_images[mine].sum()


def _shortfall(
    goal: npt.NDArray[np.float64], have: npt.NDArray[np.float64], total: int, ratios: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """`total` apportioned to what each split still lacks of `goal` (to `ratios` when none lacks anything)."""
    need = np.clip(goal - have, 0, None)
    return _apportion(need if need.sum() > 0 else ratios, total)


def _class_destinations(
    weight: npt.NDArray[np.int64], box_need: npt.NDArray[np.int64], unit_need: npt.NDArray[np.int64], n_splits: int
) -> npt.NDArray[np.int64]:
    """Split of each unit holding a class (in rank order), given its boxes of the class (`weight`).

    Units with several boxes are cut first; the single-box units then fill what every split
    still lacks, exactly.
    """
    to = np.empty(len(weight), dtype=np.int64)
    multi = weight > 1
    single = ~multi
    if multi.any():
        if single.sum() >= 2 * n_splits:
            # Balance images and boxes: a unit brings 1 image and k boxes, so cut the units with
            # k > 1 by their k - 1 extra boxes against (box need - image need); the single-box
            # units then fill the box need, and the image need follows.
            extra = weight[multi] - 1
            to[multi] = _cut(extra, _apportion(np.clip(box_need - unit_need, 0, None), int(extra.sum())))
        else:  # (almost) no single-box units to fix things up: cut by boxes
            share = box_need * (weight[multi].sum() / weight.sum())
            to[multi] = _cut(weight[multi], _apportion(share, int(weight[multi].sum())))
        placed = np.bincount(to[multi], weights=weight[multi], minlength=n_splits)
        box_need = np.clip(box_need - placed, 0, None)
    if single.any():
        to[single] = _cut(weight[single], _apportion(box_need, int(single.sum())))
    return to


def _assign(
    counts: npt.NDArray[np.int64],
    n_images: npt.NDArray[np.int64],
    ratios: npt.NDArray[np.float64],
    fixed: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Split index per unit: iterative stratification on `counts`, rarest class first.

    Args:
        counts: ``(G, C)`` boxes (or labels) of each class per unit; all zero to split by images only.
        n_images: ``(G,)`` images per unit.
        ratios: ``(S,)`` target fractions summing to 1.
        fixed: ``(G,)`` split index of units that must stay where they are, -1 for the rest.
    """
    split_of = fixed.copy()
    free = split_of < 0
    rank = np.empty(len(counts), dtype=np.int64)
    rank[rng.permutation(len(counts))] = np.arange(len(counts))
    tally = _Tally.empty(counts, n_images, len(ratios))
    present = counts > 0

    def place(units: npt.NDArray[np.int64], to: npt.NDArray[np.int64]) -> None:
        split_of[units] = to
        free[units] = False
        tally.add(units, to)

    fixed_units = np.flatnonzero(~free)
    place(fixed_units, split_of[fixed_units])
    target = ratios[:, None] * counts.sum(axis=0)[None, :]  # (S, C)
    target_units = ratios[:, None] * present.sum(axis=0)[None, :]
    remaining = present[free].sum(axis=0)
    done = remaining == 0
    while not done.all():
        c = int(np.argmin(np.where(done, np.iinfo(np.int64).max, remaining)))
        units = np.flatnonzero(free & present[:, c])
        units = units[np.argsort(rank[units], kind="stable")]
        weight = counts[units, c]
        box_need = _shortfall(target[:, c], tally.boxes[:, c], int(weight.sum()), ratios)
        unit_need = _shortfall(target_units[:, c], tally.units[:, c], len(units), ratios)
        remaining -= present[units].sum(axis=0)
        place(units, _class_destinations(weight, box_need, unit_need, len(ratios)))
        done |= remaining == 0
        done[c] = True
    rest = np.flatnonzero(free)
    if len(rest):  # units without labels (or all, unstratified): fill the image targets
        rest = rest[np.argsort(rank[rest], kind="stable")]
        weight = n_images[rest]
        place(rest, _cut(weight, _shortfall(ratios * n_images.sum(), tally.images, int(weight.sum()), ratios)))
    return split_of


# -- the result ------------------------------------------------------------------------------


@dataclass
class SplitResult:
    """A split dataset and how well it met its targets.

    `classes` has one row per (class, split): ``category_id``, ``name``, ``split``,
    ``images``, ``annotations`` (boxes; labels for classification), ``target`` (the split's
    fraction), ``annotation_share`` and ``image_share`` (of the class's total), ``deviation``
    (``|annotation_share - target|``). `splits` has one row per split: ``images``,
    ``annotations``, ``target``, ``image_share``.
    """

    dataset: Dataset
    ratios: dict[str, float]
    seed: int
    stratify: str
    splits: pd.DataFrame
    classes: pd.DataFrame
    groups: dict[str, Any]
    leaks: dict[str, Any]
    rare_classes: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    notes: list[str] = field(default_factory=list)
    has_boxes: bool = True  # False: annotations are image-level labels (classification)
    written: Any = None  # a formats.WriteReport when written by `split_files`
    source_format: str | None = None

    @property
    def largest_deviation(self) -> dict[str, Any] | None:
        """The (class, split) whose annotation share is furthest from its target."""
        if not len(self.classes):
            return None
        row = self.classes.loc[self.classes["deviation"].idxmax()]
        return {k: _plain(row[k]) for k in ("name", "split", "target", "annotation_share", "deviation")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (frames as lists of records)."""
        return {
            "source_format": self.source_format,
            "ratios": self.ratios,
            "seed": self.seed,
            "stratify": self.stratify,
            "has_boxes": self.has_boxes,
            "splits": _records(self.splits.reset_index()),
            "classes": _records(self.classes),
            "largest_deviation": self.largest_deviation,
            "groups": self.groups,
            "leaks": self.leaks,
            "rare_classes": self.rare_classes,
            "kept_existing": self.kept,
            "notes": self.notes,
            "written": None if self.written is None else self.written.to_dict(),
        }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _check_options(
    *,
    ratios: str | Sequence[float] | Mapping[str, float] = (0.7, 0.2, 0.1),
    stratify: str = "auto",
    near_duplicates: int | str | None = None,
    **_: Any,
) -> tuple[dict[str, float], int | None]:
    """Parsed ratios and threshold; raises `UsageError` on a bad option (see `split_with_report`)."""
    parts = parse_ratios(ratios)
    if stratify not in STRATIFY_MODES:
        raise UsageError(f"--stratify {stratify!r}: choose one of {', '.join(STRATIFY_MODES)}")
    return parts, parse_near_duplicates(near_duplicates)


@dataclass
class _Labels:
    """Per unit: images and boxes (labels) per class, as the assignment sees them."""

    counts: npt.NDArray[np.int64]  # (G, C); (G, 0) when unstratified
    n_images: npt.NDArray[np.int64]  # (G,)
    mode: str  # "labels", "class" or "none"
    cat_ids: npt.NDArray[np.int64]  # (C,) category ids, sorted
    ann_pos: npt.NDArray[np.int64]  # image position of each annotation whose image exists
    ann_class: npt.NDArray[np.int64]  # its class index into cat_ids

    @classmethod
    def of(cls, ds: Dataset, unit_of: npt.NDArray[np.int64], stratify: str) -> _Labels:
        anns = ds.annotations
        n_units = int(unit_of.max()) + 1 if len(unit_of) else 0
        cat_ids = ds.categories.index.union(pd.Index(anns["category_id"].unique())).to_numpy()
        pos = ds.images.index.get_indexer(anns["image_id"].to_numpy())
        ok = pos >= 0  # annotations of missing images (validate: dangling-image) are left out
        ann_class = np.searchsorted(cat_ids, anns["category_id"].to_numpy()[ok])
        n_images = np.bincount(unit_of, minlength=n_units).astype(np.int64)
        mode = ("labels" if len(ann_class) else "none") if stratify == "auto" else stratify
        n_classes = len(cat_ids)
        if mode == "none":
            counts = np.zeros((n_units, 0), dtype=np.int64)
        else:
            flat = unit_of[pos[ok]] * n_classes + ann_class
            counts = np.bincount(flat, minlength=n_units * n_classes).reshape(n_units, n_classes)
        if mode == "class":  # one label per unit: its rarest class, weighted by its images
            present = counts > 0
            rarest = np.argmin(np.where(present, present.sum(axis=0)[None, :], np.iinfo(np.int64).max), axis=1)
            has = present.any(axis=1)
            counts = np.zeros_like(counts)
            counts[np.flatnonzero(has), rarest[has]] = n_images[has]
        return cls(counts, n_images, mode, cat_ids, pos[ok], ann_class)


def _fixed_units(
    unit_of: npt.NDArray[np.int64], existing: npt.NDArray[np.object_], kept: npt.NDArray[np.bool_], names: list[str]
) -> tuple[npt.NDArray[np.int64], int]:
    """Split index of units holding a kept image (-1 elsewhere), and how many units span two kept splits.

    A unit follows its first kept image; one already spread over splits keeps them.
    """
    n_units = int(unit_of.max()) + 1 if len(unit_of) else 0
    fixed = np.full(n_units, -1, dtype=np.int64)
    if not kept.any():
        return fixed, 0
    index = {s: i for i, s in enumerate(names)}
    kept_pos = np.flatnonzero(kept)
    split_idx = np.array([index[existing[i]] for i in kept_pos], dtype=np.int64)
    units = unit_of[kept_pos]
    first = np.unique(units, return_index=True)[1]
    fixed[units[first]] = split_idx[first]
    return fixed, int((pd.Series(split_idx).groupby(units).nunique() > 1).sum())


# -- the API ---------------------------------------------------------------------------------


def _existing_splits(
    images: pd.DataFrame, parts: dict[str, float], keep_existing: bool, notes: list[str]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_], list[str]]:
    """``(split or None per image, kept?, split names)``: the ratios' names, then kept splits not among them."""
    existing = images["split"].astype(object).where(images["split"].notna(), None).to_numpy()
    kept = np.array([v is not None for v in existing], dtype=bool) if keep_existing else np.zeros(len(images), bool)
    extra = sorted({v for v in existing[kept] if v not in parts})
    if extra:
        notes.append(f"kept splits not among the ratios (no new images go there): {', '.join(extra)}")
    return existing, kept, [*parts, *extra]


def split_with_report(
    ds: Dataset,
    *,
    ratios: str | Sequence[float] | Mapping[str, float] = (0.7, 0.2, 0.1),
    seed: int = 0,
    stratify: Stratify = "auto",
    group_by: str | None = None,
    near_duplicates: int | str | None = None,
    keep_existing: bool = False,
    content: bool = True,
) -> SplitResult:
    """Assign every image a split and report per class how close each split came to its target.

    Args:
        ds: the dataset; its existing ``split`` values are replaced unless `keep_existing`.
        ratios: see `parse_ratios`; the split names come from it.
        seed: the same dataset and seed give the same assignment.
        stratify: ``"auto"`` (per class, multi-label aware, counting boxes for detection and
            labels for classification), ``"class"`` (one label per image group: its rarest
            class, counted in images) or ``"none"`` (random, by image count).
        group_by: ``"group"``, a key of ``images.attributes``, a key of ``annotations.attributes``
            (images sharing a value are joined), or a regex on ``file_name`` (its first ``(...)``
            group, else the whole match): images with one value stay together. The dataset's own
            ``group`` column is always honoured.
        near_duplicates: also keep together images whose difference hashes differ by at most
            this many of 64 bits (decodes every image, small); None or ``"off"`` to skip.
        keep_existing: images that already have a split keep it; only the others are assigned,
            toward the ratios over the whole dataset.
        content: look at the image files (identical bytes, near duplicates); False for labels only.

    Raises:
        UsageError: bad ratios, stratify mode, group field or threshold.
    """
    parts, near_duplicates = _check_options(ratios=ratios, stratify=stratify, near_duplicates=near_duplicates)
    images = ds.images
    units = find_units(ds, group_by=group_by, content=content, near_duplicates=near_duplicates)
    notes = list(units.notes)
    existing, kept_mask, names = _existing_splits(images, parts, keep_existing, notes)
    ratio_arr = np.array([parts.get(s, 0.0) for s in names], dtype=np.float64)

    labels = _Labels.of(ds, units.labels, stratify)
    fixed, spread = _fixed_units(units.labels, existing, kept_mask, names)
    if spread:
        notes.append(
            f"{spread:,} groups already span two splits; their images keep their splits (dataprep validate reports it)"
        )
    rng = np.random.default_rng(seed)
    unit_split = _assign(labels.counts, labels.n_images, ratio_arr, fixed, rng)
    image_split_idx = unit_split[units.labels]
    if kept_mask.any():
        index = {s: i for i, s in enumerate(names)}
        image_split_idx[kept_mask] = [index[existing[i]] for i in np.flatnonzero(kept_mask)]
    image_split = np.array(names, dtype=object)[image_split_idx]
    out = dataclasses.replace(ds, images=images.assign(split=pd.array(image_split, dtype="str")))

    splits_table, classes_table = _tables(ds, names, ratio_arr, image_split_idx, labels)
    return SplitResult(
        dataset=out,
        ratios=parts,
        seed=seed,
        stratify=labels.mode,
        splits=splits_table,
        classes=classes_table,
        groups={
            "units": len(labels.n_images),
            "multi_image_groups": int((labels.n_images > 1).sum()),
            "images_in_groups": int(labels.n_images[labels.n_images > 1].sum()),
            **units.groups,
        },
        leaks=check_leaks(units, image_split_idx),
        rare_classes=_rare(classes_table, names),
        kept=int(kept_mask.sum()),
        notes=notes,
        has_boxes=ds.has_boxes,
    )


def split(
    ds: Dataset,
    *,
    ratios: str | Sequence[float] | Mapping[str, float] = (0.7, 0.2, 0.1),
    seed: int = 0,
    stratify: Stratify = "auto",
    group_by: str | None = None,
    near_duplicates: int | str | None = None,
    keep_existing: bool = False,
    content: bool = True,
) -> Dataset:
    """A copy of `ds` with ``images.split`` filled: stratified, group-aware and leak-free.

    The arguments are `split_with_report`'s (the public signature is spelled out so editors and
    ``help()`` show it); that function also returns per-class shares and groups.

    Raises:
        UsageError: bad ratios, stratify mode, group field or threshold.
    """
    options = {"ratios": ratios, "seed": seed, "stratify": stratify, "group_by": group_by}
    options |= {"near_duplicates": near_duplicates, "keep_existing": keep_existing, "content": content}
    return split_with_report(ds, **options).dataset


def split_files(
    src: str | Path,
    dst: str | Path,
    *,
    to: str | None = None,
    from_format: str = "auto",
    images: str = "copy",
    overwrite: bool = False,
    **options: Any,
) -> SplitResult:
    """Read `src`, split it (`split_with_report` options) and write it to `dst` as `to` (default: the input's format).

    With ``images="none"`` only labels are written and content grouping is skipped.

    Raises:
        InputError: `src` cannot be read.
        OutputError: `dst` exists without `overwrite`, or is (or contains) `src`.
        UsageError: bad options.
    """
    from dataprep import formats
    from dataprep.files import IMAGE_MODES

    if to is not None and to not in formats.FORMATS:
        raise UsageError(f"--to {to!r}: not a format; choose one of {', '.join(formats.FORMATS)}")
    if images not in IMAGE_MODES:
        raise UsageError(f"--images {images!r}: choose one of {', '.join(IMAGE_MODES)}")
    _check_options(**options)  # before reading: a typo should not cost a long read
    src_p, dst_p = Path(src).resolve(), Path(dst).resolve()
    if src_p == dst_p or dst_p in src_p.parents:
        raise OutputError(f"{dst}: output would replace the input {src}. Choose another output folder.")
    if dst_p.exists() and not overwrite:  # before the work, not only when writing
        raise OutputError(f"{dst}: already exists. Choose another output or pass --overwrite.")
    source = formats.load(src, from_format)
    result = split_with_report(source.dataset, content=images != "none", **options)
    result.written = formats.write(result.dataset, dst, to or source.format, images=images, overwrite=overwrite)
    result.source_format = source.format
    result.notes = source.notes + result.notes
    return result


# -- report tables ---------------------------------------------------------------------------


def _tables(
    ds: Dataset,
    names: list[str],
    ratios: npt.NDArray[np.float64],
    image_split: npt.NDArray[np.int64],
    labels: _Labels,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per split and per (class, split): images, annotations, target and achieved shares."""
    cat_ids, pos, ann_class = labels.cat_ids, labels.ann_pos, labels.ann_class
    n_splits, n_classes = len(names), len(cat_ids)
    ann_split = image_split[pos]
    images_per_split = np.bincount(image_split, minlength=n_splits)
    anns_per_split = np.bincount(ann_split, minlength=n_splits)
    n_images = max(len(image_split), 1)
    splits = pd.DataFrame(
        {
            "images": images_per_split,
            "annotations": anns_per_split,
            "target": ratios,
            "image_share": images_per_split / n_images,
        },
        index=pd.Index(names, name="split"),
    )
    boxes = np.bincount(ann_class * n_splits + ann_split, minlength=n_classes * n_splits).reshape(n_classes, n_splits)
    key = pos * n_classes + ann_class  # one per (image, class)
    first = np.unique(key, return_index=True)[1]
    imgs = np.bincount(ann_class[first] * n_splits + ann_split[first], minlength=n_classes * n_splits).reshape(
        n_classes, n_splits
    )
    cat_names = ds.categories["name"].astype(object).reindex(cat_ids)
    label = [n if isinstance(n, str) else f"<id {i}>" for i, n in zip(cat_ids, cat_names, strict=True)]
    with np.errstate(invalid="ignore", divide="ignore"):
        box_share = boxes / boxes.sum(axis=1, keepdims=True)
        image_share = imgs / imgs.sum(axis=1, keepdims=True)
    used = boxes.sum(axis=1) > 0
    rows = np.repeat(np.flatnonzero(used), n_splits)
    cols = np.tile(np.arange(n_splits), int(used.sum()))
    classes = pd.DataFrame(
        {
            "category_id": cat_ids[rows],
            "name": np.array(label, dtype=object)[rows] if len(rows) else np.empty(0, dtype=object),
            "split": np.array(names, dtype=object)[cols] if len(cols) else np.empty(0, dtype=object),
            "images": imgs[rows, cols],
            "annotations": boxes[rows, cols],
            "target": ratios[cols],
            "annotation_share": box_share[rows, cols],
            "image_share": image_share[rows, cols],
        }
    )
    classes["deviation"] = (classes["annotation_share"] - classes["target"]).abs()
    return splits, classes


def _rare(classes: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    """Classes with nothing in a split that has a target: named, with the fix."""
    if not len(classes):
        return []
    empty = classes[(classes["annotations"] == 0) & (classes["target"] > 0)]
    out = []
    for (category_id, name), rows in empty.groupby(["category_id", "name"], sort=True):
        mine = classes[classes["category_id"] == category_id]
        n_images = int(mine["images"].sum())
        missing = rows["split"].tolist()
        out.append(
            {
                "category_id": int(category_id),
                "name": name,
                "images": n_images,
                "annotations": int(mine["annotations"].sum()),
                "missing_from": missing,
                "message": (
                    f"class {name!r} has {n_images} image{'s' if n_images != 1 else ''}, none in "
                    f"{', '.join(missing)}; a {len(names)}-way split needs {len(names)} or more (more for small ratios)"
                ),
                "hint": "Add images of it, merge it into a related class, or accept it missing from those splits",
            }
        )
    return out
