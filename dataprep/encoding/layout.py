"""The one definition of YOLO target layouts: grid (v1) and anchors (v2/v3), and anchor files.

A `Layout` says everything the encoder, `to_dense`, `decode` and a loss need to agree on:
network input size, strides per scale, anchors (pixels at the network size), predictors per
cell, class count and the assignment rules. Rules and test vectors: ``shared/specs/yolo-targets.md``.

Scales are ordered by stride, finest first (scale 0 = stride 8 in YOLOv3), and anchors sorted
by area are split evenly across them, small anchors on fine scales.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.errors import UsageError

# YOLOv3 (darknet yolov3.cfg), pixels at 416x416, sorted by area; masks 0-2/3-5/6-8 at strides 8/16/32.
YOLOV3_ANCHORS: tuple[tuple[float, float], ...] = (
    (10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326),
)  # fmt: skip
YOLOV3_STRIDES: tuple[int, ...] = (8, 16, 32)

# Channel order of one predictor block, in dense targets and in raw network outputs alike:
# the seed's Y = (P, bx, by, bw, bh, c1..cC).
CHANNELS: tuple[str, ...] = ("p", "x", "y", "w", "h")
KEEP_POLICIES = ("largest", "last", "all")
GRID_MIN_SIDE = 0.005  # v1: boxes with a side under 0.5 % of the image side are dropped (spec rule 2)


@dataclass(frozen=True)
class Layout:
    """Where and how boxes become targets. Build it with `grid_layout` or `anchor_layout`.

    Attributes:
        kind: ``"grid"`` (YOLOv1: cells only, the loss picks the predictor) or ``"anchors"`` (v2/v3).
        img_size: square network input side, pixels (images are letterboxed to it).
        strides: pixels per cell for each scale, finest first; grid size ``S = img_size // stride``.
        anchors: ``(A, 2)`` anchor (w, h) in pixels at `img_size`, sorted by area, ``A / len(strides)``
            per scale; empty for grids.
        predictors: predictor blocks per cell on each scale (B for a grid, anchors per scale otherwise).
        num_classes: C; class targets are ``class_index`` 0..C-1.
        assign: grid ``"center"``; anchors ``"best"``, ``"iou:T"`` or ``"ratio:R"`` (spec rule 3).
        keep: slot collisions: ``"largest"`` (largest box wins), ``"last"`` (darknet) or ``"all"``.
        wh_units: grid w/h targets as fractions of the ``"image"`` or of a ``"cell"``; anchors
            ``"log-anchor"`` (``tw = ln(w / anchor_w)``).
    """

    kind: str
    img_size: int
    strides: tuple[int, ...]
    anchors: tuple[tuple[float, float], ...]
    predictors: int
    num_classes: int
    assign: str
    keep: str = "largest"
    wh_units: str = "image"

    @property
    def grid_sizes(self) -> tuple[int, ...]:
        """S per scale (rows = columns = S)."""
        return tuple(self.img_size // s for s in self.strides)

    @property
    def num_scales(self) -> int:
        return len(self.strides)

    def anchors_px(self) -> npt.NDArray[np.float64]:
        """``(A, 2)`` float64 anchor (w, h) in pixels at `img_size` (``(0, 2)`` for a grid)."""
        return np.asarray(self.anchors, dtype=np.float64).reshape(-1, 2)

    @property
    def assign_threshold(self) -> float:
        """T of ``iou:T`` or R of ``ratio:R`` (NaN for ``best``/``center``)."""
        return float(self.assign.split(":")[1]) if ":" in self.assign else math.nan

    def dense_shapes(self) -> list[tuple[int, ...]]:
        """Per-scale shape of one image's dense targets: ``(A, S, S, 5 + C)``; grid ``(S, S, 5 + C)``."""
        depth = len(CHANNELS) + self.num_classes
        if self.kind == "grid":
            return [(s, s, depth) for s in self.grid_sizes]
        return [(self.predictors, s, s, depth) for s in self.grid_sizes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (anchors as ``[[w, h], ...]`` pixels)."""
        out = asdict(self)
        out["strides"] = list(self.strides)
        out["anchors"] = [list(a) for a in self.anchors]
        out["grid_sizes"] = list(self.grid_sizes)
        out["channels"] = [*CHANNELS, f"c0..c{self.num_classes - 1}"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        """Inverse of `to_dict` (extra keys ignored)."""
        return cls(
            kind=data["kind"],
            img_size=int(data["img_size"]),
            strides=tuple(int(s) for s in data["strides"]),
            anchors=tuple((float(w), float(h)) for w, h in data["anchors"]),
            predictors=int(data["predictors"]),
            num_classes=int(data["num_classes"]),
            assign=data["assign"],
            keep=data.get("keep", "largest"),
            wh_units=data.get("wh_units", "image"),
        )


def default_strides(scales: int) -> tuple[int, ...]:
    """Strides for `scales` scales, finest first: YOLOv3's (8, 16, 32) ending at 32, doubling past 3."""
    if scales < 1:
        raise UsageError(f"--scales {scales}: need at least one scale")
    return (
        tuple(2 ** (5 - scales + 1 + i) for i in range(scales))
        if scales <= 3
        else tuple(8 * 2**i for i in range(scales))
    )


def grid_layout(
    grid: int = 7,
    *,
    img_size: int | None = None,
    predictors: int = 2,
    num_classes: int = 20,
    keep: str = "largest",
    wh_units: str = "image",
) -> Layout:
    """YOLOv1 layout: an S x S grid, B predictors per cell, C classes (default 448 px = 64 px cells).

    Raises:
        UsageError: S does not divide `img_size`, or a value is out of range.
    """
    if grid < 1:
        raise UsageError(f"--grid {grid}: the grid needs at least 1 cell per side")
    img_size = 64 * grid if img_size is None else img_size
    if img_size % grid:
        lo, hi = grid * (img_size // grid), grid * (img_size // grid + 1)
        raise UsageError(
            f"--grid {grid} does not divide --img-size {img_size} ({img_size / grid:.2f} px per cell): "
            f"use --img-size {lo or hi} or {hi}, or a grid that divides {img_size}"
        )
    if wh_units not in ("image", "cell"):
        raise UsageError(f"wh_units {wh_units!r}: expected 'image' or 'cell'")
    _check_common(img_size, predictors, num_classes, keep)
    return Layout("grid", img_size, (img_size // grid,), (), predictors, num_classes, "center", keep, wh_units)


def anchor_layout(
    anchors: npt.ArrayLike = YOLOV3_ANCHORS,
    *,
    img_size: int = 416,
    strides: tuple[int, ...] | None = None,
    num_classes: int = 80,
    assign: str = "best",
    keep: str = "largest",
) -> Layout:
    """YOLOv2/v3 layout: anchors (pixels at `img_size`) split evenly across scales by area.

    Args:
        anchors: ``(A, 2)`` anchor (w, h) in pixels at `img_size`; sorted by area here.
        strides: pixels per cell per scale, finest first; default ``(8, 16, 32)`` when A is a
            multiple of 3, else ``(32,)`` (YOLOv2's 5 anchors). See `default_strides`.
        assign: ``"best"`` | ``"iou:T"`` (0 < T < 1) | ``"ratio:R"`` (R > 1), spec rule 3.

    Raises:
        UsageError: anchors not positive, A not divisible by the scale count, a stride not
            dividing `img_size`, or an unknown `assign`.
    """
    arr = _check_anchor_array(np.asarray(anchors, dtype=np.float64), "anchors")
    arr = arr[np.argsort(arr[:, 0] * arr[:, 1], kind="stable")]
    if strides is None:
        strides = default_strides(3 if len(arr) % 3 == 0 else 1)
    strides = tuple(int(s) for s in strides)
    if not strides or len(arr) % len(strides):
        raise UsageError(
            f"{len(arr)} anchors cannot be split evenly across {len(strides)} scales: give a multiple of "
            f"{len(strides)} anchors (e.g. --k {3 * len(strides)}) or change --scales"
        )
    for s in strides:
        if s < 1 or img_size % s:
            raise UsageError(f"stride {s} does not divide --img-size {img_size}: use a multiple of {max(strides)}")
    _check_assign(assign)
    _check_common(img_size, len(arr) // len(strides), num_classes, keep)
    pairs = tuple((float(w), float(h)) for w, h in arr)
    return Layout(
        "anchors", img_size, strides, pairs, len(arr) // len(strides), num_classes, assign, keep, "log-anchor"
    )


def _check_common(img_size: int, predictors: int, num_classes: int, keep: str) -> None:
    if img_size < 1:
        raise UsageError(f"--img-size {img_size}: must be a positive number of pixels (e.g. 416)")
    if predictors < 1:
        raise UsageError(f"{predictors} predictors per cell: need at least 1")
    if num_classes < 1:
        raise UsageError(f"{num_classes} classes: the dataset needs at least one category")
    if keep not in KEEP_POLICIES:
        raise UsageError(f"--keep {keep!r}: expected one of {', '.join(KEEP_POLICIES)}")


def _check_assign(assign: str) -> None:
    name, _, value = assign.partition(":")
    ok = assign == "best"
    if name in ("iou", "ratio") and value:
        try:
            t = float(value)
        except ValueError:
            t = math.nan
        ok = (0 < t < 1) if name == "iou" else (t > 1)
    if not ok:
        raise UsageError(
            f"--assign {assign!r}: expected 'best', 'iou:T' with 0 < T < 1 (iou:0.5) or 'ratio:R' with R > 1 (ratio:4)"
        )


def _check_anchor_array(arr: npt.NDArray[np.float64], source: str) -> npt.NDArray[np.float64]:
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise UsageError(
            f"{source}: expected (w, h) pairs, got an array of shape {arr.shape}. Write them as W,H W,H ..."
        )
    bad = ~(np.isfinite(arr).all(axis=1) & (arr > 0).all(axis=1))
    if bad.any():
        w, h = arr[np.argmax(bad)]
        raise UsageError(
            f"{source}: anchor ({w:g}, {h:g}) is not a positive size. Give widths and heights in pixels > 0"
        )
    return arr


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def parse_anchors(text: str, *, source: str = "anchors") -> npt.NDArray[np.float64]:
    """``(A, 2)`` float64 anchors from text: ``"10,13 16,30 ..."``, darknet's ``"10,13,  16,30"``, or JSON.

    JSON may be a list of ``[w, h]`` pairs or an object with an ``anchors`` key (the output of
    ``dataprep anchors --json`` and the ``layout.json`` that ``dataprep encode`` writes).

    Raises:
        UsageError: the text holds no pairs, an odd count of numbers, stray words, or a size <= 0.
    """
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise UsageError(f"{source}: not valid JSON ({err}). Write anchors as W,H W,H ... or a JSON list") from None
        if isinstance(data, dict):
            data = data.get("anchors")
        try:
            arr = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise UsageError(f"{source}: 'anchors' must be a list of [w, h] number pairs") from None
        return _check_anchor_array(arr, source)
    leftover = _NUMBER.sub(" ", stripped).replace(",", " ").replace("x", " ").split()
    if leftover:
        raise UsageError(f"{source}: cannot read {leftover[0]!r} as a number. Write anchors as W,H W,H ... in pixels")
    numbers = [float(m) for m in _NUMBER.findall(stripped)]
    if not numbers or len(numbers) % 2:
        raise UsageError(
            f"{source}: {len(numbers)} numbers, expected an even count of W,H pairs. Write anchors as W,H W,H ..."
        )
    return _check_anchor_array(np.asarray(numbers, dtype=np.float64).reshape(-1, 2), source)


def read_anchors(path: str | Path) -> npt.NDArray[np.float64]:
    """`parse_anchors` on a file's text.

    Raises:
        UsageError: the file is missing, unreadable or does not parse (named, with the fix).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(
            f"--anchors {path}: cannot read the file ({err.__class__.__name__}). "
            "Give a text or JSON file of W,H pairs, 'auto' or 'yolov3'"
        ) from None
    return parse_anchors(text, source=str(path))
