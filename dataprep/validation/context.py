"""What the checks look at: a `CheckContext` around the dataset, its thresholds, and image probing.

The context computes shared facts once, lazily, and only when a selected check needs them:
boxes as one ``(N, 4)`` array, image sizes, one header read per image file (`image_probes`)
and content digests of same-size files (`image_digests`). It asks the format's
`ValidationHooks` which format-specific checks apply, so no check names a format, and the
format's `FormatSpec.image_source` for images its label files embed (`embedded_source`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.dataset import Dataset

if TYPE_CHECKING:
    from dataprep.formats.base import ValidationHooks


@dataclass(frozen=True)
class Thresholds:
    """Tunable limits of the warning-level checks (all in pixels unless stated).

    Attributes:
        outside_tolerance: how far a box may reach past the image border before
            ``box-outside-image`` (absorbs float noise of normalized formats).
        min_box_side: boxes narrower or shorter than this are ``box-tiny``.
        max_aspect_ratio: ``max(w/h, h/w)`` above this is ``box-aspect-ratio``.
        imbalance_ratio: most / least frequent class above this gives ``class-imbalance``.
        yolo_tolerance: slack on YOLO's normalized ``[0, 1]`` range (``yolo-out-of-range``).
    """

    outside_tolerance: float = 0.01
    min_box_side: float = 2.0
    max_aspect_ratio: float = 20.0
    imbalance_ratio: float = 10.0
    yolo_tolerance: float = 1e-6

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | Thresholds | None) -> Thresholds:
        """Thresholds from a dict (manifest ``thresholds:``), unknown keys refused with ValueError."""
        if values is None:
            return cls()
        if isinstance(values, Thresholds):
            return values
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown thresholds {unknown}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in values.items()})


@dataclass
class CheckContext:
    """What the checks look at: the dataset plus lazily computed, shared facts.

    `image_probes` (one header read per image) and `image_digests` are computed once, on
    first use, and only when a selected check needs them.
    """

    ds: Dataset
    format: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    images: bool = True
    decode: bool = False
    manifest: dict[str, Any] | None = None
    base: Path | None = None  # folder finding paths are relative to (the input folder)
    # codes of the reader's findings: a check whose answer they make unknowable stays quiet
    # (labels skipped as label-without-image leave their classes looking unused)
    reader_codes: frozenset[str] = frozenset()
    # Threads that open image files. Pillow's header parsing holds the GIL, so on a local disk
    # one thread is fastest (50k PNG headers: 3.7 s with 1, 5.4 s with 8 on 2 cores); more
    # help only where each open waits on the network.
    workers: int = 1

    @classmethod
    def of(cls, arg: CheckContext | Dataset) -> CheckContext:
        """`arg` itself, or a default context around a bare Dataset."""
        return arg if isinstance(arg, CheckContext) else cls(arg)

    def applies(self, code: str) -> bool:
        """Whether the format-specific check `code` applies: the format's hooks list it."""
        hooks = format_hooks(self.format)
        return hooks is not None and code in hooks.checks

    # -- shared, lazily computed ------------------------------------------------------------

    @cached_property
    def xyxy(self) -> npt.NDArray[np.float64]:
        """``(N, 4)`` boxes of all annotations, in table order."""
        return self.ds.boxes_xyxy()

    @cached_property
    def finite(self) -> npt.NDArray[np.bool_]:
        """``(N,)`` annotations whose four coordinates are finite."""
        return np.isfinite(self.xyxy).all(axis=1)

    @cached_property
    def image_size(self) -> pd.DataFrame:
        """Per image ``width``/``height`` (float64, NaN = unknown): the labels' size, else the file's."""
        images = self.ds.images
        width = images["width"].astype("float64").to_numpy(na_value=np.nan)
        height = images["height"].astype("float64").to_numpy(na_value=np.nan)
        if self.images and (np.isnan(width).any() or np.isnan(height).any()):
            probes = self.image_probes
            width = np.where(np.isnan(width), probes["width"].to_numpy(dtype=float, na_value=np.nan), width)
            height = np.where(np.isnan(height), probes["height"].to_numpy(dtype=float, na_value=np.nan), height)
        return pd.DataFrame({"width": width, "height": height}, index=images.index)

    @cached_property
    def annotation_size(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(N,)`` width and height of each annotation's image (NaN: unknown or dangling image)."""
        pos = self.ds.images.index.get_indexer(self.ds.annotations["image_id"].to_numpy())
        size = self.image_size.to_numpy()
        width = np.where(pos >= 0, size[pos, 0], np.nan) if len(pos) else np.empty(0)
        height = np.where(pos >= 0, size[pos, 1], np.nan) if len(pos) else np.empty(0)
        return width, height

    def image_path(self, file_name: str) -> Path:
        """Where an image file is on disk."""
        return self.ds.resolve(file_name)

    def display_path(self, file_name: str) -> str:
        """An image's path as findings show it: relative to `base` when it lies below it."""
        path = self.image_path(file_name)
        if self.base is None:
            return str(file_name)
        try:
            return Path(os.path.relpath(path, self.base)).as_posix() if not _escapes(path, self.base) else str(path)
        except ValueError:  # other drive on Windows
            return str(path)

    @cached_property
    def embedded_source(self) -> Callable[[str], bytes | None] | None:
        """``file_name -> bytes | None``: the image as the dataset's label files embed it (None: they don't).

        The format's `FormatSpec.image_source` under the dataset's root (LabelMe's base64
        ``imageData``); for a dataset of unknown format, every format's. Asked with
        ``strict=True`` (`formats.base.ImageSource`): it raises `InputError` saying why embedded
        data it finds cannot be used (not base64, a decompression bomb), where it would give None.
        None when the dataset has no root or its format embeds no images.
        """
        from dataprep.formats import FORMATS
        from dataprep.formats.base import embedded_image

        root = self.ds.root
        if root is None:
            return None
        if self.format is None:
            return partial(embedded_image, root, strict=True)
        spec = FORMATS.get(self.format)
        source = None if spec is None else spec.image_source
        return None if source is None else partial(source, root, strict=True)

    @cached_property
    def image_probes(self) -> pd.DataFrame:
        """One header read (and with `decode` a full decode) per image, threaded.

        Columns: ``status`` (``ok``/``missing``/``unreadable``/``corrupt``), ``error`` (str),
        ``width``/``height`` (as displayed, EXIF applied), ``stored_width``/``stored_height``,
        ``orientation`` (EXIF 1..8), ``nbytes`` (file size). Sizes are ``<NA>`` when unread.

        An image whose file is not there but which the label files embed (`embedded_source`) is
        probed from those bytes (``nbytes`` their length); where the file exists, the file wins.
        """
        images = self.ds.images
        names = images["file_name"].astype(object).tolist()
        paths = [self.image_path(name) for name in names]
        decode, source = self.decode, self.embedded_source
        if len(paths) > 64 and self.workers > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                rows = list(pool.map(lambda p, n: _probe_one(p, decode, n, source), paths, names, chunksize=64))
        else:
            rows = [_probe_one(p, decode, n, source) for p, n in zip(paths, names, strict=True)]
        columns = ["status", "error", "width", "height", "stored_width", "stored_height", "orientation", "nbytes"]
        frame = pd.DataFrame.from_records(rows, columns=columns, index=images.index)
        for name in columns[2:]:
            frame[name] = frame[name].astype("Int64")
        return frame

    @cached_property
    def image_digests(self) -> pd.Series:
        """Content hash per readable image (str, NaN for the rest).

        Only files whose byte size equals another file's are hashed: files of different
        sizes cannot be identical, so a set without duplicates is not read twice.
        """
        from dataprep.files import file_digest

        probes = self.image_probes
        ok = probes["status"].isin(["ok", "corrupt"]).to_numpy()
        nbytes = probes["nbytes"].to_numpy(dtype=float, na_value=np.nan)
        candidates = ok & pd.Series(nbytes).duplicated(keep=False).to_numpy() & ~np.isnan(nbytes)
        digests = pd.Series(np.nan, index=probes.index, dtype=object)
        if candidates.any():
            names = self.ds.images["file_name"].astype(object).to_numpy()[candidates]
            paths = [self.image_path(n) for n in names]

            def digest(path: Path) -> str | None:
                try:
                    return file_digest(path)
                except OSError:
                    return None

            if len(paths) > 16 and self.workers > 1:
                with ThreadPoolExecutor(max_workers=self.workers) as pool:
                    values = list(pool.map(digest, paths))
            else:
                values = [digest(p) for p in paths]
            digests.iloc[np.flatnonzero(candidates)] = values
        return digests


def _escapes(path: Path, base: Path) -> bool:
    rel = os.path.relpath(path, base)
    return rel == ".." or rel.startswith(".." + os.sep)


_MISSING = ("missing", "file not found", None, None, None, None, None, None)


def _probe_one(
    path: Path, decode: bool, name: str | None = None, source: Callable[[str], bytes | None] | None = None
) -> tuple[Any, ...]:
    """``(status, error, width, height, stored_width, stored_height, orientation, nbytes)``.

    A missing file is looked up as `source` (the label files' embedded copy of image `name`).
    """
    from dataprep.files import probe_image

    try:
        nbytes = os.stat(path).st_size
    except FileNotFoundError:
        return _MISSING if source is None or name is None else _probe_embedded(source, name, decode)
    except OSError as err:  # permission denied on a folder, name too long...
        return ("unreadable", err.strerror or str(err), None, None, None, None, None, None)
    except ValueError:  # a NUL byte in the name
        return ("unreadable", f"invalid file name {str(path)!r}", None, None, None, None, None, None)
    try:
        header = probe_image(path)
    except Exception as err:
        return ("unreadable", _short_error(err), None, None, None, None, None, nbytes)
    row = (
        "ok",
        None,
        header.width,
        header.height,
        header.stored_width,
        header.stored_height,
        header.orientation,
        nbytes,
    )
    if decode:
        error = _decode_error(path)
        if error is not None:
            return ("corrupt", error, *row[2:])
    return row


def _probe_embedded(source: Callable[[str], bytes | None], name: str, decode: bool) -> tuple[Any, ...]:
    """`_probe_one` of the bytes `source` gives for image `name`: missing when it gives None."""
    from dataprep.errors import InputError
    from dataprep.files import pillow_header

    try:
        data = source(name)
    except InputError as err:
        where = Path(err.path).name if err.path else "its label file"
        return ("unreadable", f"{where} embeds it, but {err.problem}", *(None,) * 6)
    if data is None:
        return _MISSING
    try:
        header = pillow_header(io.BytesIO(data))
    except Exception as err:
        return ("unreadable", f"the copy its labels embed: {_short_error(err)}", *(None,) * 5, len(data))
    row = ("ok", None, header.width, header.height, header.stored_width, header.stored_height, header.orientation)
    if decode:
        error = _decode_error(io.BytesIO(data))
        if error is not None:
            return ("corrupt", f"the copy its labels embed: {error}", *row[2:], len(data))
    return (*row, len(data))


def _decode_error(path: Path | IO[bytes]) -> str | None:
    """None when Pillow decodes every pixel, else why it could not."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as err:
        return _short_error(err)
    return None


def _short_error(err: BaseException) -> str:
    from dataprep.errors import InputError

    if isinstance(err, InputError):
        return err.problem
    text = str(err) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def format_hooks(name: str | None) -> ValidationHooks | None:
    """The `ValidationHooks` of the registered format `name` (None: unknown format or no hooks)."""
    if name is None:
        return None
    from dataprep.formats import FORMATS

    spec = FORMATS.get(name)
    return None if spec is None else spec.validation


def formats_applying(code: str) -> list[str]:
    """Names of the registered formats whose hooks list the format-specific check `code`."""
    from dataprep.formats import FORMATS

    return [name for name in FORMATS if code in getattr(format_hooks(name), "checks", ())]
