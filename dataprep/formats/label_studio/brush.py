"""Label Studio's brush RLE (``brushlabels`` ``value.rle``): a bit-packed run-length code of an RGBA image.

Layout of the bit stream (most significant bit first): 32 bits value count ``N`` (``width *
height * 4``), 5 bits word size - 1, four 4-bit run-length field sizes - 1; then records until
``N`` values: 1 bit ``repeat``, 2 bits which field size, that many bits ``run - 1``, then one
word (repeat: the value of the whole run) or ``run`` words (literal values). The mask is the
alpha channel (every 4th value) > 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MAX_PIXELS = 1 << 26  # 64 Mpx: a mask of more is refused before anything is allocated
_SIZES = (4, 8, 12, 16)  # run-length field sizes the encoder uses


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.pos = 0

    def read(self, n: int) -> int:
        if self.pos + n > len(self.bits):
            raise ValueError("brush RLE ends early")
        chunk = self.bits[self.pos : self.pos + n]
        self.pos += n
        return int("".join("1" if b else "0" for b in chunk.tolist()) or "0", 2)


def decode(rle: list[int], width: int, height: int) -> npt.NDArray[np.bool_]:
    """``value.rle`` -> ``(height, width)`` bool mask.

    Raises:
        ValueError: not bytes, truncated, or a count that does not match ``width * height * 4``.
    """
    if width * height > MAX_PIXELS:
        raise ValueError(f"a {width}x{height} brush mask is over the {MAX_PIXELS:,} pixel limit")
    data = bytes(rle)  # ValueError/TypeError on values outside 0..255
    bits = _Bits(data)
    n = bits.read(32)
    if n != width * height * 4:
        raise ValueError(f"brush RLE holds {n} values, not {width}x{height}x4")
    word = bits.read(5) + 1
    sizes = [bits.read(4) + 1 for _ in range(4)]
    out = np.zeros(n, dtype=np.uint8)
    i = 0
    while i < n:
        repeat = bits.read(1)
        j = min(n, i + 1 + bits.read(sizes[bits.read(2)]))
        if repeat:
            out[i:j] = bits.read(word)
        else:
            for k in range(i, j):
                out[k] = bits.read(word)
        i = j
    return out.reshape(height, width, 4)[:, :, 3] > 0


def encode(mask: npt.ArrayLike) -> list[int]:
    """``(height, width)`` bool mask -> ``value.rle`` (RGBA 255 where the mask is set; repeat runs only)."""
    m = np.asarray(mask, dtype=bool)
    values = np.repeat(m.ravel().astype(np.uint8) * 255, 4)
    bounds = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1, [values.size]])
    bits: list[str] = [format(values.size, "032b"), format(7, "05b"), *(format(s - 1, "04b") for s in _SIZES)]
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        value = format(int(values[start]), "08b")
        while start < stop:
            run = min(stop - start, 1 << _SIZES[-1])
            idx = next(k for k, s in enumerate(_SIZES) if run - 1 < (1 << s))
            bits.append(f"1{idx:02b}{format(run - 1, f'0{_SIZES[idx]}b')}{value}")
            start += run
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return np.packbits(np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")).tolist()
