"""The fast JPEG/PNG header parser against Pillow: real files, every EXIF orientation, odd and broken files."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from dataprep import _image_header
from dataprep.errors import InputError
from dataprep.files import ImageHeader, probe_image

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"
SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def pillow_header(path: Path) -> ImageHeader | str:
    """What `probe_image` answered before the fast parser: Pillow only (the reference), or the error type."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                stored_w, stored_h = im.size
                fmt = im.format
                try:
                    if fmt == "PNG":
                        exif = Image.Exif()
                        if "exif" in im.info:
                            exif.load(im.info["exif"])
                    else:
                        exif = im.getexif()
                    orientation = int(exif.get(0x0112, 1) or 1)
                except Exception:
                    orientation = 1
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as err:
        return type(err).__name__
    orientation = orientation if orientation in range(1, 9) else 1
    w, h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    return ImageHeader(w, h, stored_w, stored_h, orientation, fmt)


def fast_header(path: Path) -> ImageHeader | None:
    found = _image_header.read_header(path)
    if found is None:
        return None
    fmt, sw, sh, o = found
    return ImageHeader(*((sh, sw) if o >= 5 else (sw, sh)), sw, sh, o, fmt)


def assert_agrees(path: Path) -> bool:
    """The fast answer (when it gives one) is Pillow's, and `probe_image` is Pillow's; True if fast answered."""
    reference = pillow_header(path)
    fast = fast_header(path)
    if fast is not None:
        assert fast == reference, path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probed: ImageHeader | str = probe_image(path)
    except InputError:
        probed = "error"
    if isinstance(reference, str):
        assert probed == "error", path
    else:
        assert probed == reference, path
    return fast is not None


def real_images() -> list[Path]:
    roots = [REPO / "samples", CONFORMANCE]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)


def test_real_files_match_pillow() -> None:
    files = real_images()
    if not files:
        pytest.skip("no sample or conformance images here")
    answered = [assert_agrees(p) for p in files]
    jpeg_png = [p for p in files if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    assert sum(answered) >= 0.9 * len(jpeg_png)  # the fast path is the common path


def exif_bytes(orientation: int, *, big_endian: bool = False, description: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if description is not None:
        exif[0x010E] = description
    data = exif.tobytes()
    if big_endian:  # rewrite the one-entry IFD as Motorola order by hand
        data = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01" + struct.pack(">HHLHH", 0x0112, 3, 1, orientation, 0)
        data += b"\x00\x00\x00\x00"
    return data


def save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def generated(tmp: Path) -> list[Path]:
    """Files of every kind the fast path answers or must hand over to Pillow."""
    rgb = Image.new("RGB", (33, 17), (10, 200, 30))
    out = []
    for o in range(0, 10):  # 0 and 9 are out of range: Pillow reads them as 1
        out.append(save(tmp / f"o{o}.jpg", rgb, exif=exif_bytes(o)))
        out.append(save(tmp / f"p{o}.jpg", rgb, exif=exif_bytes(o), progressive=True))
        out.append(save(tmp / f"o{o}.png", rgb, exif=exif_bytes(o)))
        out.append(save(tmp / f"mm{o}.jpg", rgb, exif=exif_bytes(o, big_endian=True)))
    out.append(save(tmp / "long-exif.jpg", rgb, exif=exif_bytes(6, description="x" * 60000)))
    out.append(save(tmp / "xmp.jpg", rgb, xmp=b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'))
    out.append(save(tmp / "xmp-tag.jpg", rgb, xmp=b"<rdf:li><tiff:Orientation>5</tiff:Orientation></rdf:li>"))
    out.append(save(tmp / "exif-and-xmp.jpg", rgb, exif=exif_bytes(3), xmp=b'tiff:Orientation="6"'))
    out.append(save(tmp / "grey.jpg", rgb.convert("L")))
    out.append(save(tmp / "cmyk.jpg", rgb.convert("CMYK")))
    out.append(save(tmp / "icc.jpg", rgb, icc_profile=b"\x00" * 3000))
    out.append(save(tmp / "q.jpg", rgb, quality=5, subsampling=0, dpi=(300, 300)))
    out.append(save(tmp / "comment.jpg", rgb, comment=b"hello"))
    out.append(save(tmp / "mpo.mpo", rgb, format="MPO", save_all=True, append_images=[rgb.resize((8, 8))]))
    for mode in ("1", "L", "LA", "P", "RGBA", "I;16"):
        out.append(save(tmp / f"mode-{mode.replace(';', '')}.png", rgb.convert(mode)))
    out.append(save(tmp / "trns.png", rgb.convert("P"), transparency=0))
    out.append(save(tmp / "trns-rgb.png", rgb, transparency=(10, 200, 30)))
    out.append(save(tmp / "text.png", rgb, pnginfo=_pnginfo()))
    out.append(save(tmp / "icc.png", rgb, icc_profile=b"\x00" * 300))
    out.append(save(tmp / "interlaced.png", rgb, dpi=(72, 72)))
    out.append(save(tmp / "apng.png", rgb, save_all=True, append_images=[rgb.rotate(90)]))
    out.append(_png_exif_after_idat(tmp / "late-exif.png", rgb, 6))
    for fmt in ("BMP", "GIF", "WEBP", "TIFF", "PPM"):
        out.append(save(tmp / f"x.{fmt.lower()}", rgb, exif=exif_bytes(6)) if fmt in ("WEBP", "TIFF") else
                   save(tmp / f"x.{fmt.lower()}", rgb))  # fmt: skip
    return out


def _pnginfo() -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "a test")
    info.add_itxt("Comment", "ünïcode", lang="en")
    info.add_itxt("XML:com.adobe.xmp", 'tiff:Orientation="6"')  # Pillow's PNG probe ignores XMP
    info.add_text("Note", "zipped", zip=True)
    return info


def _png_exif_after_idat(path: Path, image: Image.Image, orientation: int) -> Path:
    """A PNG whose eXIf follows the pixels: Image.open does not see it, so neither do we."""
    data = io.BytesIO()
    image.save(data, format="PNG")
    raw = data.getvalue()
    body = exif_bytes(orientation)[6:]
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    path.write_bytes(raw[:-12] + chunk + raw[-12:])
    return path


def test_generated_files_match_pillow(tmp_path: Path) -> None:
    files = generated(tmp_path)
    answered = {p.name for p in files if assert_agrees(p)}
    # the plain cases take the fast path: every orientation, both byte orders, progressive, PNG modes
    assert {f"o{o}.jpg" for o in range(1, 9)} | {f"p{o}.jpg" for o in range(1, 9)} <= answered
    assert {f"o{o}.png" for o in range(1, 9)} | {f"mm{o}.jpg" for o in range(1, 9)} <= answered
    assert {"long-exif.jpg", "xmp.jpg", "xmp-tag.jpg", "grey.jpg", "cmyk.jpg", "icc.jpg", "trns.png"} <= answered
    # what we do not mirror goes to Pillow
    assert not {"mpo.mpo", "apng.png", "x.bmp", "x.gif", "x.webp", "x.tiff", "o0.jpg", "o9.png"} & answered


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_applied(tmp_path: Path, orientation: int) -> None:
    path = save(tmp_path / "x.jpg", Image.new("RGB", (40, 20)), exif=exif_bytes(orientation))
    header = probe_image(path)
    assert (header.stored_width, header.stored_height, header.orientation) == (40, 20, orientation)
    assert (header.width, header.height) == ((20, 40) if orientation >= 5 else (40, 20))
    assert header.rotated == (orientation >= 5)


def test_broken_headers_match_pillow(tmp_path: Path) -> None:
    """Seeded byte flips and cuts in the header region: the fast path never answers differently."""
    rng = np.random.default_rng(0)
    rgb = Image.new("RGB", (33, 17), (1, 2, 3))
    seeds = [
        save(tmp_path / "a.jpg", rgb, exif=exif_bytes(6), xmp=b'tiff:Orientation="3"', icc_profile=b"\x01" * 40),
        save(tmp_path / "b.png", rgb, exif=exif_bytes(8), pnginfo=_pnginfo()),
        save(tmp_path / "c.png", rgb.convert("P"), transparency=3),
    ]
    cases = 0
    for seed in seeds:
        raw = seed.read_bytes()
        header_end = raw.find(b"\xff\xda") + 20 if seed.suffix == ".jpg" else raw.find(b"IDAT") + 8
        for k in range(120):
            data = bytearray(raw)
            if k % 4 == 3:
                data = data[: int(rng.integers(2, header_end))]
            else:
                for _ in range(1 + k % 3):
                    data[int(rng.integers(0, header_end))] = int(rng.integers(0, 256))
            path = tmp_path / f"broken-{seed.stem}-{k}{seed.suffix}"
            path.write_bytes(bytes(data))
            assert_agrees(path)
            cases += 1
    assert cases == 360


def test_bombs_are_left_to_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(tmp_path / "x.jpg", Image.new("RGB", (40, 20)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 800 pixels: over the limit, under twice it
    assert _image_header.read_header(path) is None
    with pytest.warns(Image.DecompressionBombWarning):
        assert probe_image(path).width == 40
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # over twice the limit: Pillow refuses
    with pytest.raises(InputError, match="not a readable image"):
        probe_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert _image_header.read_header(path) == ("JPEG", 40, 20, 1)


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _image_header.read_header(tmp_path / "missing.jpg")
    assert _image_header.read_header(tmp_path) is None  # a folder: Pillow says what is wrong
    (tmp_path / "empty.png").write_bytes(b"")
    assert _image_header.read_header(tmp_path / "empty.png") is None
    with pytest.raises(InputError, match="not a readable image"):
        probe_image(tmp_path / "empty.png")
