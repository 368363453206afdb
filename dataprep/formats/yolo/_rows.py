"""Label rows to bytes: numbers formatted byte-identically to ``'%d'`` and ``'%.6f'``, vectorized,
and multi-part polygons joined into the one outline a YOLO row holds."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

_POW10 = 10 ** np.arange(19, dtype=np.int64)
# "000".."999" as 3-byte records: one `take` per three digits.
_TRIPLES = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8).view("V3").ravel()


def join_parts(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """One ``(K, 2)`` outline from several polygon parts, joined at their closest points.

    The outline walks each part from where it is entered to where the next part is closest,
    goes round the last part whole, then walks back through the rest of each part, so every
    bridge is traversed twice (zero width) and the filled area is the union of the parts.
    """
    parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts if len(p)]
    if len(parts) == 1:
        return parts[0]
    links = []
    for a, b in itertools.pairwise(parts):
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        links.append((int(i), int(j)))
    entry = [links[0][0], *[j for _, j in links]]  # where each part is entered
    exit_ = [i for i, _ in links]  # where each part (but the last) is left
    forward, backward = [], []
    for k, p in enumerate(parts):
        rolled = np.roll(p, -entry[k], axis=0)  # starts at the entry point
        if k == len(parts) - 1:
            forward.append(np.concatenate([rolled, rolled[:1]]))
            continue
        cut = (exit_[k] - entry[k]) % len(p)
        forward.append(rolled[: cut + 1])
        backward.append(np.concatenate([rolled[cut:], rolled[:1]]))
    return np.concatenate(forward + backward[::-1])


def _fixed6(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """``values`` times 10**6 rounded exactly as ``'%.6f'`` rounds, or None when out of range.

    ``np.rint(x * 1e6)`` agrees with the correctly rounded decimal except when ``x * 1e6`` lies
    within float error of a half: those few values are rounded by Python's formatter itself.
    """
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.int64)
    if not np.isfinite(values).all() or np.abs(values).max() >= 1e9:
        return None
    scaled = values * 1e6
    q = np.rint(scaled)
    risky = np.abs(scaled - np.floor(scaled) - 0.5) <= np.maximum(np.abs(scaled), 1.0) * 1e-12
    q = q.astype(np.int64)
    if risky.any():  # one list pass, not a loop of numpy scalars (boxes on 2-decimal pixels hit this often)
        near = values[risky]
        fixed = np.array([int(f"{v:.6f}".replace(".", "")) for v in np.abs(near).tolist()], dtype=np.int64)
        q[risky] = np.where(near < 0, -fixed, fixed)
    return q


def _digit_count(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Number of decimal digits of non-negative ints (0 has 1)."""
    return np.maximum(np.searchsorted(_POW10, values, side="right"), 1)


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """``(..., width)`` ASCII digits of non-negative ints, right-aligned, zero-padded.

    Three digits per table lookup (a third of the divisions, and byte-record gathers).
    """
    groups = -(-width // 3)
    rest = values.astype(np.int32) if values.size and values.max() < 2**31 else values
    out = np.empty((*values.shape, groups), dtype="V3")
    for g in range(groups - 1, -1, -1):
        high = rest // 1000
        out[..., g] = _TRIPLES.take(rest - high * 1000)
        rest = high
    return out.view(np.uint8).reshape(*values.shape, groups * 3)[..., groups * 3 - width :]


def format_rows(
    class_index: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Rows ``"<class> <v1> <v2> ...\\n"``, byte-identical to ``'%d' % c`` and ``'%.6f' % v``.

    Built as a character matrix with a keep-mask (sign and leading-zero padding masked out),
    so 200k rows cost a few numpy passes instead of 200k Python format calls; in blocks of
    rows to keep the temporaries small.

    Returns the bytes of all rows and the ``(R,)`` length of each row.
    """
    block = 1 << 15
    if len(values) <= block:
        return _format_block(class_index, values)
    done = [_format_block(class_index[i : i + block], values[i : i + block]) for i in range(0, len(values), block)]
    return b"".join(d[0] for d in done), np.concatenate([d[1] for d in done])


def _format_block(
    class_index: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    rows, cols = values.shape
    q = _fixed6(values)
    if q is None:  # inf/nan or huge values: let Python spell them
        fmt = "%d" + " %.6f" * cols + "\n"
        lines = [fmt % (c, *v) for c, v in zip(class_index.tolist(), values.tolist(), strict=True)]
        return "".join(lines).encode("ascii"), np.fromiter(map(len, lines), np.int64, rows)
    aq = np.abs(q)
    whole, frac = aq // 1_000_000, aq % 1_000_000
    int_len = _digit_count(whole)
    cls_len = _digit_count(class_index)
    int_width = int(int_len.max()) if int_len.size else 1
    cls_width = int(cls_len.max()) if cls_len.size else 1
    field_width = 1 + int_width + 1 + 6 + 1  # sign, integer digits, '.', 6 decimals, separator
    chars = np.empty((rows, cls_width + 1 + cols * field_width), dtype=np.uint8)
    keep = np.ones(chars.shape, dtype=bool)
    chars[:, :cls_width] = _digits(class_index, cls_width)
    keep[:, :cls_width] = np.arange(cls_width) >= (cls_width - cls_len)[:, None]
    chars[:, cls_width] = 32
    f = chars[:, cls_width + 1 :].reshape(rows, cols, field_width)
    k = keep[:, cls_width + 1 :].reshape(rows, cols, field_width)
    f[..., 0] = 45  # '-', kept for negatives and -0.0 as '%.6f' does
    k[..., 0] = np.signbit(values)
    f[..., 1 : 1 + int_width] = _digits(whole, int_width)
    k[..., 1 : 1 + int_width] = np.arange(int_width) >= (int_width - int_len)[..., None]
    f[..., 1 + int_width] = 46  # '.'
    f[..., 2 + int_width : 8 + int_width] = _digits(frac, 6)
    f[..., -1] = 32
    f[:, -1, -1] = 10
    lengths = keep.sum(axis=1, dtype=np.int64)
    return chars[keep].tobytes(), lengths


def gather(
    parts: list[tuple[npt.NDArray[np.int64], bytes, npt.NDArray[np.int64]]], total: int
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Interleave formatted row groups ``(rows, bytes, lengths)`` back into row order."""
    if not parts:
        return b"", np.zeros(total, dtype=np.int64)
    if len(parts) == 1 and np.array_equal(parts[0][0], np.arange(total)):
        return parts[0][1], parts[0][2]
    blob = np.frombuffer(b"".join(p[1] for p in parts), dtype=np.uint8)
    rows = np.concatenate([p[0] for p in parts])
    lengths_src = np.concatenate([p[2] for p in parts])
    starts_src = np.zeros(len(lengths_src), dtype=np.int64)
    np.cumsum(lengths_src[:-1], out=starts_src[1:])
    lengths = np.zeros(total, dtype=np.int64)
    starts = np.zeros(total, dtype=np.int64)
    lengths[rows], starts[rows] = lengths_src, starts_src
    out_starts = np.zeros(total, dtype=np.int64)
    np.cumsum(lengths[:-1], out=out_starts[1:])
    index = np.repeat(starts - out_starts, lengths) + np.arange(int(lengths.sum()))
    return blob[index].tobytes(), lengths
