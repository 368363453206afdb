"""Image size and EXIF orientation from JPEG and PNG headers, without Pillow.

`read_header` answers what `files.probe_image`'s Pillow path would answer (Pillow 13: the
size of the last frame header, the first EXIF block's IFD0 orientation, XMP ``tiff:Orientation``
as Pillow's fallback for JPEG; for PNG only chunks before the first IDAT, as ``Image.open``
reads them), about 3x faster: one 8 KiB read for most files, and a PNG is never decoded.

It is deliberately a subset: anything Pillow might read differently, refuse, warn about or
decode further (12-bit JPEG, multi-picture MPO, APNG, a bad checksum, text chunks that hold
EXIF, truncated or odd EXIF, images over Pillow's decompression-bomb limit) returns None,
and the caller asks Pillow.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import zlib
from pathlib import Path

_O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow's default Image.MAX_IMAGE_PIXELS; when Pillow is imported its current value is used.
_DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3

# JPEG markers that carry a length and that Pillow reads as segments (others: ask Pillow).
_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xDE))
_SKIPPED = frozenset((0xC4, 0xCC, 0xDC, 0xDD, 0xDF, 0xFE, *range(0xE0, 0xF0)))
_XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')
_EXIF_PREFIXES = re.compile(b"^(Exif\x00\x00){1,2}")
# TIFF field type -> bytes per value, for the types Pillow reads (others make us ask Pillow).
_TIFF_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}

# PNG (bit depth, colour type) pairs Pillow opens.
_PNG_MODES = frozenset(
    {(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3), (8, 4), (16, 4)}
    | {(8, 6), (16, 6)}
)
# Chunks Pillow checks for a minimum length before IDAT; shorter ones make it refuse the file.
_PNG_MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
# Chunks whose handling we do not mirror: animation, compressed text and profiles.
_PNG_ASK_PILLOW = frozenset((b"acTL", b"fcTL", b"fdAT", b"zTXt", b"iCCP", b"IEND"))
_PNG_CHUNK_ID = re.compile(rb"^\w\w\w\w$")
_MAX_TEXT = 1 << 20  # Pillow refuses 64 MiB of text chunks; past 1 MiB we let it judge
_IHDR = struct.Struct(">IIBBBBB")
_CHUNK = struct.Struct(">I4s")
_HEAD_SIZE = 1 << 13


def _at(fd: int, head: bytes, offset: int, n: int) -> bytes:
    """`n` bytes at `offset` (fewer at the end of the file): from `head`, the file's first
    8 KiB read once, else from the file."""
    if offset + n <= len(head) or len(head) < _HEAD_SIZE:
        return head[offset : offset + n]
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, n)


def read_header(path: str | Path) -> tuple[str, int, int, int] | None:
    """``(format, stored width, stored height, EXIF orientation 1..8)`` of a JPEG or PNG file.

    Sizes are the pixel array's (orientation not applied). None when the file is not a JPEG or
    PNG, cannot be read, or holds anything this parser does not mirror Pillow on exactly.

    Raises:
        FileNotFoundError: `path` does not exist.
    """
    try:
        fd = os.open(path, _O_READ)
    except FileNotFoundError:
        raise
    except (OSError, ValueError):  # permissions, a folder, a NUL in the name: Pillow says what
        return None
    try:
        head = os.read(fd, _HEAD_SIZE)
        if head[:3] == b"\xff\xd8\xff":
            found = _jpeg(fd, head)
            kind = "JPEG"
        elif head[:8] == _PNG_SIGNATURE:
            found = _png(fd, head)
            kind = "PNG"
        else:
            return None
    except (OSError, struct.error, IndexError):
        return None
    finally:
        os.close(fd)
    if found is None:
        return None
    width, height, orientation = found
    if width <= 0 or height <= 0 or not 1 <= orientation <= 8:
        return None
    # past Pillow's decompression-bomb limit Pillow warns or refuses: let it
    image_module = sys.modules.get("PIL.Image")
    limit = getattr(image_module, "MAX_IMAGE_PIXELS", _DEFAULT_MAX_PIXELS) if image_module else _DEFAULT_MAX_PIXELS
    if limit is not None and width * height > limit:
        return None
    return kind, width, height, orientation


def _jpeg(fd: int, head: bytes) -> tuple[int, int, int] | None:
    """``(width, height, orientation)`` from the markers before the first scan, or None."""
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    pos = 2
    while True:
        marker = _at(fd, head, pos, 4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        kind, length = marker[1], (marker[2] << 8) | marker[3]
        if length < 2 or not (kind == 0xDA or kind in _SOF or kind in _SKIPPED or kind == 0xDB):
            return None  # fill bytes, markers without a length, junk: Pillow's own loop decides
        if kind == 0xDA:
            if size is None or len(_at(fd, head, pos + 4, length - 2)) < length - 2:
                return None
            orientation = _jpeg_orientation(exif, xmp)
            return None if orientation is None else (size[0], size[1], orientation)
        if kind in _SOF:
            seg = _at(fd, head, pos + 4, length - 2)
            # Pillow opens 8-bit frames of 1, 3 or 4 components, each 3 bytes, and keeps the last size
            if len(seg) < 6 or seg[0] != 8 or seg[5] not in (1, 3, 4) or (len(seg) - 6) % 3:
                return None
            size = (seg[3] << 8) | seg[4], (seg[1] << 8) | seg[2]
        elif kind == 0xDB:
            if not _dqt_ok(_at(fd, head, pos + 4, length - 2)):
                return None
        elif 0xE0 <= kind <= 0xEE:
            seg = _at(fd, head, pos + 4, min(length - 2, 64)) if kind != 0xE1 else _at(fd, head, pos + 4, length - 2)
            if kind == 0xE1 and seg.startswith(b"Exif\x00\x00"):
                exif = seg if exif is None else exif + seg[6:]  # Pillow joins EXIF blocks
            elif kind == 0xE1 and seg.startswith(_XMP_PREFIX):
                xmp = seg.split(b"\x00", 1)[1]  # the last one wins
            elif _unusual_app(kind, seg, length - 2):
                return None
        pos += 2 + length


def _unusual_app(kind: int, seg: bytes, length: int) -> bool:
    """APP segments Pillow could refuse (short JFIF/Adobe/ICC) or read as MPO (MPF)."""
    if kind == 0xE0:
        return seg.startswith(b"JFIF") and length < 7
    if kind == 0xE2:
        return seg.startswith(b"MPF\x00") or (seg.startswith(b"ICC_PROFILE\x00") and length < 14)
    if kind == 0xEE:
        return seg.startswith(b"Adobe") and length < 7
    return False


def _dqt_ok(seg: bytes) -> bool:
    """True when a DQT segment holds whole tables (Pillow refuses a short one)."""
    while seg:
        table = 1 + (1 if seg[0] >> 4 == 0 else 2) * 64
        if len(seg) < table:
            return False
        seg = seg[table:]
    return True


def _jpeg_orientation(exif: bytes | None, xmp: bytes | None) -> int | None:
    """Pillow's ``getexif()`` orientation: EXIF IFD0, else XMP ``tiff:Orientation``, else 1."""
    orientation = 0 if exif is None else _exif_orientation(exif)
    if orientation == 0 and xmp is not None:
        match = _XMP_ORIENTATION.search(xmp)
        orientation = int(match[2]) if match else 0
    if orientation is None:
        return None
    return orientation or 1


def _exif_orientation(exif: bytes) -> int | None:
    """Orientation tag (0x0112) of an EXIF block's IFD0: 1..8, 0 when absent, None when unsure."""
    tiff = _EXIF_PREFIXES.sub(b"", exif, count=1)
    if not tiff:
        return 0
    if tiff[:4] == b"II*\x00":
        e = "<"
    elif tiff[:4] == b"MM\x00*":
        e = ">"
    else:
        return None  # BigTIFF or garbage: Pillow's reading differs or fails
    (ifd,) = struct.unpack_from(e + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(e + "H", tiff, ifd)
    if ifd + 2 + 12 * count > len(tiff):
        return None
    external = 0
    found: list[tuple[int, int, bytes]] = []
    for i in range(count):
        tag, kind, n, raw = struct.unpack_from(e + "HHL4s", tiff, ifd + 2 + 12 * i)
        if tag == 0x0112:
            found.append((kind, n, raw))
            continue
        unit = _TIFF_UNIT.get(kind)
        if unit is None:
            return None
        if n * unit > 4:  # data elsewhere: Pillow stops reading the IFD when it is cut short
            external += n * unit
            (offset,) = struct.unpack_from(e + "L", raw)
            if offset + n * unit > len(tiff) or external > len(tiff):
                return None
    if not found:
        return 0
    if len(found) > 1 or found[0][:2] != (3, 1):
        return None
    value = struct.unpack_from(e + "H", found[0][2])[0]
    return value if 1 <= value <= 8 else None


def _png(fd: int, head: bytes) -> tuple[int, int, int] | None:
    """``(width, height, orientation)`` from the chunks before the first IDAT, or None."""
    if len(head) < 33 or head[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    if zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big"):
        return None  # Pillow checks the CRC too
    width, height, depth, colour, _, _, filtering = _IHDR.unpack_from(head, 16)
    if (depth, colour) not in _PNG_MODES or filtering:
        return None
    exif: bytes | None = None
    text = 0
    pos = 33
    while True:
        if pos + 8 <= len(head):
            length, kind = _CHUNK.unpack_from(head, pos)
        else:
            header = _at(fd, head, pos, 8)
            if len(header) < 8:
                return None
            length, kind = _CHUNK.unpack(header)
        if kind == b"IDAT":
            break
        if kind in _PNG_ASK_PILLOW or kind == b"IHDR" or not _PNG_CHUNK_ID.match(kind):
            return None
        chunk = _at(fd, head, pos + 8, length + 4)
        if len(chunk) < length + 4 or not _crc_ok(kind + chunk[:-4], chunk[-4:]):
            return None  # Pillow checks every checksum before IDAT
        body = chunk[:-4]
        if length < _PNG_MIN_LENGTH.get(kind, 0) or (kind == b"tRNS" and length < _trns_min(depth, colour)):
            return None
        if kind == b"eXIf":
            exif = b"Exif\x00\x00" + body
        elif kind in (b"tEXt", b"iTXt"):
            key, _, value = body.partition(b"\x00")
            text += len(value)
            if key == b"exif" or text > _MAX_TEXT or (kind == b"iTXt" and value[:1] not in (b"\x00", b"")):
                return None  # EXIF in text, much text, or compressed iTXt: Pillow reads those
        pos += 12 + length
    orientation = 1 if exif is None else _exif_orientation(exif)
    if orientation is None:
        return None
    return width, height, orientation or 1


def _crc_ok(data: bytes, crc: bytes) -> bool:
    return len(crc) == 4 and zlib.crc32(data) == int.from_bytes(crc, "big")


def _trns_min(depth: int, colour: int) -> int:
    """Bytes Pillow needs in a tRNS chunk: 2 for grey (modes 1, L, I;16), 6 for RGB, else none."""
    return {0: 2, 2: 6}.get(colour, 0)
