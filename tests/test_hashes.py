"""Content digests and difference hashes: duplicates found, look-alikes close, strangers far."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep import hashes


def _texture(seed: int, width: int = 96, height: int = 72) -> Image.Image:
    """A smooth random image (blurred noise): dHash needs structure, not a flat colour."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def _reference_dhash(path: Path) -> int:
    """dHash written out plainly: 9x8 grey thumbnail, left pixel < right pixel, row-major bits."""
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = "".join("1" if grey[r, c + 1] > grey[r, c] else "0" for r in range(8) for c in range(8))
    return int(bits, 2)


def test_duplicate_pairs_finds_identical_bytes_only(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / f"{n}.bin" for n in "abcd")
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"y" * 100)  # same size, other bytes: hashed, not paired
    c.write_bytes(b"x" * 100)
    d.write_bytes(b"x" * 99)  # other size: never hashed
    paths = [a, b, c, d, tmp_path / "missing.bin"]
    sizes = hashes.file_sizes(paths)
    assert sizes.tolist() == [100, 100, 100, 99, -1]
    assert hashes.duplicate_pairs(paths).tolist() == [[0, 2]]


def test_duplicate_pairs_star_per_content(tmp_path: Path) -> None:
    paths = []
    for i, content in enumerate([b"one", b"two", b"one", b"one", b"two"]):
        paths.append(tmp_path / f"{i}.bin")
        paths[-1].write_bytes(content)
    assert sorted(map(tuple, hashes.duplicate_pairs(paths).tolist())) == [(0, 2), (0, 3), (1, 4)]


def test_dhash_matches_the_plain_reference(tmp_path: Path) -> None:
    path = tmp_path / "t.png"
    _texture(1, 18, 16).save(path)  # small: no draft or reduce, so the reference is exact
    assert hashes.dhash(path) == _reference_dhash(path)


def test_dhash_keeps_look_alikes_close_and_strangers_far(tmp_path: Path) -> None:
    original = _texture(3, 640, 480)
    original.save(tmp_path / "a.png")
    original.resize((320, 240)).save(tmp_path / "b.jpg", quality=70)  # resized, re-encoded
    Image.eval(original, lambda v: min(255, v + 12)).save(tmp_path / "c.jpg", quality=90)  # brighter
    _texture(4, 640, 480).save(tmp_path / "d.png")
    values, ok = hashes.dhashes([tmp_path / n for n in ("a.png", "b.jpg", "c.jpg", "d.png", "none.png")])
    assert ok.tolist() == [True, True, True, True, False]
    assert hashes.hamming(values[0], values[1]) <= 4
    assert hashes.hamming(values[0], values[2]) <= 4
    assert hashes.hamming(values[0], values[3]) > 16


def test_hamming_counts_differing_bits() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, 50, dtype=np.uint64)
    b = rng.integers(0, 2**63, 50, dtype=np.uint64)
    expected = [bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True)]
    assert hashes.hamming(a, b).tolist() == expected


@pytest.mark.parametrize("block_cells", [1 << 22, 37])
def test_near_duplicate_pairs_match_brute_force(monkeypatch: pytest.MonkeyPatch, block_cells: int) -> None:
    monkeypatch.setattr(hashes, "_BLOCK_CELLS", block_cells)  # 37: many blocks of one row
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, 12, dtype=np.uint64)
    flips = np.left_shift(np.uint64(1), rng.integers(0, 64, 60).astype(np.uint64))
    values = np.concatenate([base, base[rng.integers(0, 12, 60)] ^ flips])  # one bit off a base hash
    valid = rng.random(len(values)) > 0.1
    found = {tuple(p) for p in hashes.near_duplicate_pairs(values, 3, valid=valid).tolist()}
    expected = {
        (i, j)
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if valid[i] and valid[j] and bin(int(values[i]) ^ int(values[j])).count("1") <= 3
    }
    assert found == expected
    assert expected  # the data has near duplicates to find
