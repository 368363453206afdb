"""Image fingerprints for leak-free splits: exact content digests and difference hashes.

Two images with identical bytes must never sit in two splits, and neither should two that
differ only by re-encoding, resizing or a small brightness change. `duplicate_pairs` finds the
first kind (BLAKE2b of the bytes, only for files whose sizes collide); `dhashes` +
`near_duplicate_pairs` the second: a 64-bit difference hash (dHash: is each pixel of a 9x8
grey thumbnail brighter than its right neighbour?) compared by Hamming distance.

Pillow is imported lazily. Thumbnails are decoded small: JPEG via ``draft()`` (the decoder
scales by 1/2..1/8 while decoding), other formats via ``reduce()`` before the final resize.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dataprep.files import file_digest

HASH_BITS = 64
_BLOCK_CELLS = 1 << 22  # hash comparisons per block: 32 MB of XORs


def file_sizes(paths: Sequence[str | Path]) -> npt.NDArray[np.int64]:
    """``(N,)`` byte size of each file; -1 where the file is missing or unreadable."""
    out = np.full(len(paths), -1, dtype=np.int64)
    for i, path in enumerate(paths):
        try:
            out[i] = os.stat(path).st_size
        except OSError:
            continue
    return out


def duplicate_pairs(paths: Sequence[str | Path], sizes: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.int64]:
    """``(M, 2)`` index pairs ``(i, j)``, ``i < j``, of files with identical bytes.

    Only files whose size equals another file's are hashed, so a set without duplicates is
    read once for its sizes (a ``stat`` each), never for its content. Each duplicate is paired
    with the first file of its content (a star, enough for connected components).

    Args:
        paths: files to compare; missing ones (size -1) are never paired.
        sizes: ``(N,)`` sizes from `file_sizes`, when already known.
    """
    sizes = file_sizes(paths) if sizes is None else np.asarray(sizes, dtype=np.int64)
    present = sizes >= 0
    order = np.flatnonzero(present)
    if len(order) < 2:
        return np.empty((0, 2), dtype=np.int64)
    _, inverse, counts = np.unique(sizes[order], return_inverse=True, return_counts=True)
    candidates = order[counts[inverse] > 1]
    if not len(candidates):
        return np.empty((0, 2), dtype=np.int64)
    digests = []
    for i in candidates:
        try:
            digests.append(file_digest(paths[i]))
        except OSError:  # vanished or unreadable since the stat: never paired
            digests.append(f"unreadable-{i}")
    keys = np.array([f"{sizes[i]}:{d}" for i, d in zip(candidates, digests, strict=True)], dtype=object)
    _, first_pos, inverse = np.unique(keys, return_index=True, return_inverse=True)
    first = candidates[first_pos[inverse]]
    dup = first != candidates
    return np.stack([first[dup], candidates[dup]], axis=1).astype(np.int64)


def dhash(path: str | Path, *, hash_size: int = 8) -> int:
    """Difference hash of one image: ``hash_size**2`` bits as an int (row-major, MSB first).

    Raises:
        OSError: the file is missing or not an image Pillow can decode.
    """
    from PIL import Image

    width, height = hash_size + 1, hash_size
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("L", (width * 4, height * 4))  # decode at 1/2..1/8 scale: far fewer pixels
        im = im.convert("L")
        factor = min(im.width // (width * 4), im.height // (height * 4))
        if factor > 1:
            im = im.reduce(factor)
        small = im.resize((width, height), Image.Resampling.BILINEAR)
    grey = np.asarray(small, dtype=np.int16)  # (hash_size, hash_size + 1)
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def dhashes(paths: Sequence[str | Path]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """``(hashes, ok)``: 64-bit difference hash per file ``(N,)`` uint64, and which could be decoded."""
    out = np.zeros(len(paths), dtype=np.uint64)
    ok = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        try:
            out[i] = np.uint64(dhash(path))
        except (OSError, ValueError, SyntaxError):  # Pillow raises all three on broken files
            continue
        ok[i] = True
    return out, ok


def hamming(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Element-wise Hamming distance between uint64 hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))


def near_duplicate_pairs(
    hashes: npt.NDArray[np.uint64], threshold: int, *, valid: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int64]:
    """``(M, 2)`` index pairs ``(i, j)``, ``i < j``, whose hashes differ in at most `threshold` bits.

    Exact (no missed pair): blocks of rows are compared with every later hash through one
    XOR and a popcount each, about 4 million comparisons (32 MB) per block. 50,000 hashes
    take 1.25 billion comparisons, a few seconds.

    Args:
        hashes: ``(N,)`` uint64 from `dhashes`.
        threshold: largest Hamming distance still counted as a near duplicate (0..64).
        valid: ``(N,)`` mask of hashes to use (from `dhashes`); others are never paired.
    """
    h = np.asarray(hashes, dtype=np.uint64)
    index = np.arange(len(h)) if valid is None else np.flatnonzero(valid)
    h = h[index]
    pairs = []
    block = max(1, _BLOCK_CELLS // max(len(h), 1))
    for start in range(0, len(h), block):
        rows = h[start : start + block]
        rest = h[start:]
        close = np.bitwise_count(rows[:, None] ^ rest[None, :]) <= threshold  # (block, N - start)
        i, j = np.nonzero(close)
        j = j + start
        keep = j > i + start
        pairs.append(np.stack([index[i[keep] + start], index[j[keep]]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(pairs).astype(np.int64)
