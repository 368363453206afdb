"""YOLO label bytes to rows, and rows to annotation columns: vectorized over all label files at once.

One object per line: ``class cx cy w h`` (a box), ``class cx cy w h conf`` (a predicted box),
``class x1 y1 ... xk yk`` with k >= 3 (a polygon, whose box is its bounds), ``... conf`` (a
predicted polygon); a pose dataset adds its keypoints after the box. Coordinates are normalized
by the image size as displayed (EXIF orientation applied), read from the image header.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.boxes import cxcywh_norm_to_xyxy
from dataprep.errors import InputError
from dataprep.files import probe_image
from dataprep.formats.base import EXTRA_KEY
from dataprep.formats.yolo._common import ORPHAN_HINT, Listing, ReadContext

_LINE_HINT = "Each line is 'class cx cy w h' (normalized; add a 6th 'conf' for predictions) or 'class x1 y1 x2 y2 ...'"
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True  # what bytes.split() splits on
_O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)


@dataclass
class Rows:
    """Parsed label rows: row r has ``arity[r]`` numbers at ``values[start[r]:start[r] + arity[r]]``."""

    file: npt.NDArray[np.int64]  # index into the label files
    line: npt.NDArray[np.int64]  # 1-based line in its file
    arity: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> Rows:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, np.zeros(0))


# ---------------------------------------------------------------------------------------------
# image sizes


def image_sizes(
    image_paths: list[str], labels: list[str | None], names: list[str], listing: Listing, ctx: ReadContext
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str | None]]:
    """``(width, height, labels)`` per image as displayed (NaN when unknown).

    A label file whose image is missing or unreadable is reported and dropped from `labels`
    (its boxes cannot be turned into pixels); counts of rotated, missing, unreadable and
    unlabelled images are noted.
    """
    n = len(image_paths)
    labels = list(labels)
    width: list[float] = [math.nan] * n  # lists, not arrays, while filling: this loop runs per image
    height: list[float] = [math.nan] * n
    rotated = missing = unreadable = 0
    exists = listing.exists
    for i, p in enumerate(image_paths):
        if not exists(p):
            missing += 1
            if labels[i] is not None:
                ctx.fail(
                    InputError(
                        labels[i],
                        f"label file without an image ({names[i]} not found): its boxes cannot be turned into pixels",
                        hint=ORPHAN_HINT,
                    ),
                    "label-without-image",
                )
                labels[i] = None
            continue
        try:
            header = probe_image(p)
        except InputError as err:
            unreadable += 1
            if labels[i] is not None:
                ctx.fail(err, "image-unreadable")
                labels[i] = None
            continue
        width[i] = header.width
        height[i] = header.height
        rotated += header.orientation >= 5  # header.rotated, without the property call
    if rotated:
        ctx.notes.append(f"{rotated} images have an EXIF rotation: sizes are as displayed (width and height swapped)")
    if missing:
        ctx.notes.append(f"{missing} listed images not found on disk: kept without size")
    if unreadable:
        ctx.notes.append(f"{unreadable} images could not be read: kept without size")
    no_label = sum(1 for i in range(n) if labels[i] is None and not math.isnan(width[i]))
    if no_label:
        ctx.notes.append(f"{no_label} images have no label file: read as images without objects")
    return np.array(width, dtype=np.float64), np.array(height, dtype=np.float64), labels


# ---------------------------------------------------------------------------------------------
# label files -> rows


def read_label_files(labels: list[str | None], ctx: ReadContext) -> tuple[list[str], npt.NDArray[np.int64], Rows]:
    """Load and parse every label file: ``(files read, image position of each, rows)``.

    Unreadable files and bad lines raise or become findings (``unreadable-label``, ``bad-label-line``).
    """
    label_files: list[str] = []
    label_image: list[int] = []
    contents: list[bytes] = []
    for i, p in enumerate(labels):
        if p is None:
            continue
        try:
            data = load_label_file(p)
        except InputError as err:
            ctx.fail(err, "unreadable-label")
            continue
        label_files.append(p)
        label_image.append(i)
        contents.append(data)
    rows = parse_rows(contents, label_files, ctx) if contents else Rows.empty()
    return label_files, np.asarray(label_image, dtype=np.int64), rows


def _read_all(path: str) -> bytes:
    """A whole file through os.open/os.read: half the cost of open().read() for small files."""
    fd = os.open(path, _O_READ)
    try:
        data = os.read(fd, 1 << 16)
        if len(data) == 1 << 16:  # a short read of a regular file is its end
            parts = [data]
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


def load_label_file(path: str) -> bytes:
    """A label file's bytes, normalized to ``\\n`` line ends and a final newline.

    Raises:
        InputError: unreadable, binary or non-ASCII content (naming the line).
    """
    try:
        data = _read_all(path)
    except OSError as err:
        raise InputError(path, f"cannot read the label file: {err.strerror or err}", hint="Check permissions") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii() or b"\x00" in data:
        bad = next(i for i, c in enumerate(data) if c > 127 or c == 0)
        line = data[:bad].count(b"\n") + 1
        raise InputError(
            path,
            f"binary or non-text data in a label file (byte 0x{data[bad]:02x})",
            line=line,
            hint="Label files hold numbers only; replace or delete the file",
        )
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data


def parse_rows(contents: list[bytes], paths: list[str], ctx: ReadContext, *, block_bytes: int = 1 << 21) -> Rows:
    """Parse every row of every label file, a few MiB of files per vectorized pass (the token
    list of one pass is ~10x its text); bad rows raise or become findings."""
    blocks: list[Rows] = []
    values_done = 0
    first = 0
    while first < len(contents):
        last, size = first, 0
        while last < len(contents) and (size < block_bytes or last == first):
            size += len(contents[last])
            last += 1
        rows = _parse_block(contents[first:last], paths[first:last], ctx)
        blocks.append(Rows(rows.file + first, rows.line, rows.arity, rows.start + values_done, rows.values))
        values_done += len(rows.values)
        first = last
    if len(blocks) == 1:
        return blocks[0]
    return Rows(
        *(np.concatenate([getattr(b, f) for b in blocks]) for f in ("file", "line", "arity", "start", "values"))
    )


def _parse_block(contents: list[bytes], paths: list[str], ctx: ReadContext) -> Rows:
    """Parse the rows of some label files in one pass (see `parse_rows`)."""
    buf = b"".join(contents)
    arr = np.frombuffer(buf, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    ws = _WHITESPACE[arr]
    starts = np.flatnonzero(~ws & np.concatenate(([True], ws[:-1])))
    del ws
    token_line = np.searchsorted(newlines, starts)
    per_line = np.bincount(token_line, minlength=len(newlines))
    row_lines = np.flatnonzero(per_line)
    arity = per_line[row_lines].astype(np.int64)
    start = np.zeros(len(row_lines), dtype=np.int64)
    np.cumsum(arity[:-1], out=start[1:])
    file_first_line = np.zeros(len(contents), dtype=np.int64)
    np.cumsum([c.count(b"\n") for c in contents[:-1]], out=file_first_line[1:])
    row_file = np.searchsorted(file_first_line, row_lines, side="right") - 1
    row_line = row_lines - file_first_line[row_file] + 1
    tokens = buf.split()
    values, bad_rows = _numbers(tokens, start)
    # Arity: 5 box, 6 box + conf, odd >= 7 polygon, even >= 8 polygon + conf (pose: 5 + keypoints).
    for r in np.flatnonzero(arity < 5).tolist():
        bad_rows.setdefault(r, f"expected 5 numbers (class cx cy w h), got {int(arity[r])}")
    cls = values[start]
    with np.errstate(invalid="ignore"):
        bad_cls = ~np.isfinite(cls) | (cls < 0) | (cls != np.floor(cls)) | (cls > 2**31)
    for r in np.flatnonzero(bad_cls).tolist():
        tok = tokens[int(start[r])].decode("ascii", "replace")
        bad_rows.setdefault(r, f'class index must be a whole number >= 0, got "{tok}"')
    if bad_rows:
        order = sorted(bad_rows, key=lambda r: (int(row_file[r]), int(row_line[r])))
        for r in order:
            line_no = int(row_lines[r])
            lo = int(newlines[line_no - 1]) + 1 if line_no else 0
            text = buf[lo : int(newlines[line_no])].decode("ascii", "replace").strip()
            text = text if len(text) <= 80 else text[:77] + "..."
            err = InputError(
                paths[int(row_file[r])], f'{bad_rows[r]}: "{text}"', line=int(row_line[r]), hint=_LINE_HINT
            )
            ctx.fail(err, "bad-label-line")
        keep = np.ones(len(row_lines), dtype=bool)
        keep[list(bad_rows)] = False
        row_file, row_line, arity, start = row_file[keep], row_line[keep], arity[keep], start[keep]
    return Rows(row_file.astype(np.int64), row_line.astype(np.int64), arity, start, values)


def _numbers(tokens: list[bytes], start: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], dict[int, str]]:
    """Tokens as floats (NaN where not a number) and, per row with a bad token, what is wrong with the first."""
    bad_rows: dict[int, str] = {}
    try:
        return np.array(tokens, dtype=np.float64), bad_rows
    except ValueError:
        pass
    values = np.full(len(tokens), np.nan)
    token_row = np.searchsorted(start, np.arange(len(tokens)), side="right") - 1
    for i, tok in enumerate(tokens):
        try:
            values[i] = float(tok)
        except ValueError:
            text = tok.decode("ascii", "replace")
            problem = (
                f'"{text}": numbers are separated by spaces, not commas' if b"," in tok else f'"{text}" is not a number'
            )
            bad_rows.setdefault(int(token_row[i]), problem)
    return values, bad_rows


# ---------------------------------------------------------------------------------------------
# rows -> annotation columns


def rows_to_annotations(
    rows: Rows,
    image_index: npt.NDArray[np.int64],
    width: npt.NDArray[np.float64],
    height: npt.NDArray[np.float64],
    *,
    keypoints: int = 0,
    keypoint_dim: int = 0,
) -> dict[str, Any]:
    """Annotation columns (absolute xyxy, polygons, scores, pose keypoints) from parsed rows.

    `image_index` maps a label file to its image's position; `width`/`height` are per image.
    Pose rows (``keypoints`` numbers after the box, ``keypoint_dim`` 2 or 3 per point) keep their
    points as COCO keypoints: ``attributes[EXTRA_KEY] = {"keypoints": [x, y, v, ...] (absolute
    pixels; v 0 unlabelled, 1 hidden, 2 visible; 2 for labelled points without v), "num_keypoints"}``.
    """
    n = len(rows.arity)
    img = image_index[rows.file]
    w, h = width[img], height[img]
    values, start, arity = rows.values, rows.start, rows.arity
    xyxy = np.full((n, 4), np.nan)
    score = np.full(n, np.nan)
    segmentation = np.full(n, None, dtype=object)
    # 5: box; 6: box + conf; pose (kpt_shape): 5 + K or 6 + K, keypoints not kept; else polygons.
    box_arity = (5, 6, 5 + keypoints, 6 + keypoints) if keypoints else (5, 6)
    is_box = np.isin(arity, box_arity)
    if is_box.any():
        rb = np.flatnonzero(is_box)
        cxcywh = values[start[rb, None] + np.arange(1, 5)]
        xyxy[rb] = cxcywh_norm_to_xyxy(cxcywh, w[rb], h[rb])
        conf = rb[np.isin(arity[rb], box_arity[1::2])]
        score[conf] = values[start[conf] + arity[conf] - 1]
    attributes = np.full(n, None, dtype=object)
    pose = np.flatnonzero(np.isin(arity, (5 + keypoints, 6 + keypoints))) if keypoints and keypoint_dim else []
    if len(pose):
        pts = values[start[pose, None] + 5 + np.arange(keypoints)].reshape(len(pose), -1, keypoint_dim)
        xy = pts[..., :2] * np.stack([w[pose], h[pose]], axis=1)[:, None, :]
        labelled = (pts[..., :2] != 0).any(axis=2)
        vis = pts[..., 2] if keypoint_dim == 3 else np.where(labelled, 2.0, 0.0)
        flat = np.concatenate([xy, vis[..., None]], axis=2).reshape(len(pose), -1)
        for r, row, count in zip(pose.tolist(), flat.tolist(), (vis > 0).sum(axis=1).tolist(), strict=True):
            kp = [round(v, 6) if i % 3 < 2 else int(v) for i, v in enumerate(row)]
            attributes[r] = {EXTRA_KEY: {"keypoints": kp, "num_keypoints": int(count)}}
    for a in np.unique(arity[~is_box]).tolist():
        rp = np.flatnonzero((arity == a) & ~is_box)
        k = (a - 1) // 2
        pts = values[start[rp, None] + np.arange(1, 1 + 2 * k)].reshape(-1, k, 2)
        pts = pts * np.stack([w[rp], h[rp]], axis=1)[:, None, :]
        xyxy[rp, :2] = pts.min(axis=1)
        xyxy[rp, 2:] = pts.max(axis=1)
        if a % 2 == 0:
            score[rp] = values[start[rp] + a - 1]
        for r, poly in zip(rp.tolist(), pts, strict=True):
            segmentation[r] = [poly]
    return {
        "image_pos": img,
        "class_index": values[start].astype(np.int64),
        "x_min": xyxy[:, 0],
        "y_min": xyxy[:, 1],
        "x_max": xyxy[:, 2],
        "y_max": xyxy[:, 3],
        "segmentation": segmentation,
        "score": score,
        "attributes": attributes,
    }
