"""Safe file handling: atomic output directories, path sanitising, image header probes.

Every writer builds its output inside `atomic_output_dir`, so a crash or an error leaves
either the old destination or the complete new one, never half of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep import _image_header
from dataprep.errors import InputError, OutputError, UsageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".jfif", ".pgm", ".ppm"})
IMAGE_MODES = ("copy", "link", "none")
MAX_YAML_BYTES = 1 << 20
MAX_YAML_NODES = 100_000  # a "billion laughs" YAML expands &/* aliases exponentially
MAX_YAML_DEPTH = 64


@contextlib.contextmanager
def atomic_output_dir(dest: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `dest` when the block succeeds.

    The temporary directory is a sibling of `dest` (same filesystem, so the final step is a
    rename). On an exception it is removed and `dest` is left untouched.

    Raises:
        OutputError: `dest` exists and `overwrite` is false, or it is a file.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise OutputError(f"{dest}: already exists. Choose another output or pass --overwrite.")
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{dest}: exists and is not a directory. Remove it or choose another output.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / "d")
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _clean_member(name: str) -> tuple[str, bool]:
    """The member rule for one name: ``(clean POSIX name, unsafe)``; see `clean_members`."""
    text = name.replace("\\", "/")
    segments = text.split("/")
    parts = [p for p in segments if p not in ("", ".")]
    bad = (
        not parts
        or text.startswith("/")
        or segments[-1] in ("", ".", "..")
        or ".." in parts
        or (len(parts[0]) >= 2 and parts[0][1] == ":")
        or "\x00" in text
    )
    return "/".join(parts), bad


# Substrings of "\0" + names joined by "\0" + "\0" that only names needing `_clean_member` contain.
_UNCLEAN_PARTS = (
    "\\", "//", "\x00/", "/\x00", "\x00\x00", "\x00./", "/./", "/.\x00", "\x00.\x00",
    "\x00../", "/../", "/..\x00", "\x00..\x00",
)  # fmt: skip
_UNCLEAN_RE = re.compile(r"[\\\x00]|//|^/|/$|^$|(?:^|/)\.{1,2}(?:/|$)|^[^/]:")
_DRIVE_RE = re.compile(r"\x00[^/\x00]:")


def clean_members(
    names: Iterable[Any] | pd.Series | npt.NDArray[Any],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_]]:
    """Normalize dataset member names and flag the unsafe ones: the one safe-path rule.

    Backslashes are read as separators (Windows-made files), repeated ``/`` and ``.`` parts are
    dropped (``./a.jpg`` -> ``a.jpg``, ``a//b.jpg`` -> ``a/b.jpg``). A name is unsafe when it is
    empty or missing, absolute (``/x``, ``\\x``), starts with a drive (``C:``), has a ``..`` part,
    contains NUL, or does not end in a file name (``a/``, ``.``, ``a/.``). Spaces and non-ASCII
    characters are kept as they are.

    Args:
        names: N member names (str; None/NaN count as empty).

    Returns:
        ``(clean, bad)``: (N,) object array of normalized names (unsafe ones normalized as far as
        possible, never to be used) and (N,) bool mask of unsafe names.
    """
    values = names.to_numpy(dtype=object) if isinstance(names, pd.Series) else np.asarray(list(names), dtype=object)
    if values.ndim != 1:
        values = values.reshape(-1)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = ""
    texts = [v if isinstance(v, str) else str(v) for v in values.tolist()]
    n = len(texts)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return np.empty(0, dtype=object), bad
    joined = "\x00" + "\x00".join(texts) + "\x00"
    if (
        joined.count("\x00") == n + 1
        and not any(part in joined for part in _UNCLEAN_PARTS)
        and (":" not in joined or _DRIVE_RE.search(joined) is None)
    ):  # the common case: every name is clean already (a few ms for 100k names)
        clean = np.empty(n, dtype=object)
        clean[:] = texts
        return clean, bad
    out = list(texts)
    search = _UNCLEAN_RE.search
    for i, text in enumerate(texts):
        if search(text):
            out[i], bad[i] = _clean_member(text)
    clean = np.empty(n, dtype=object)
    clean[:] = out
    return clean, bad


def check_member(name: str, *, path: str | Path | None = None, record: str | None = None) -> str:
    """Return `name` as a clean relative POSIX path (`clean_members` for one name), or raise.

    Raises:
        InputError: the name is unsafe by `clean_members`' rule (empty, absolute, drive, ``..``,
            NUL, or not ending in a file name).
    """
    clean, bad = _clean_member(str(name))
    if bad:
        raise InputError(
            path,
            f"unsafe file name {name!r}",
            record=record,
            hint="File names must be relative paths inside the dataset, without '..' or a drive",
        )
    return clean


def unsafe_member_mask(names: pd.Series) -> npt.NDArray[np.bool_]:
    """True where a name is unsafe by `clean_members`' rule (its ``bad`` mask)."""
    return clean_members(names)[1]


def safe_join(root: str | Path, name: str) -> Path:
    """Join a dataset-relative `name` to `root`, refusing names that escape it.

    Raises:
        OutputError: `name` is absolute or contains ``..``.
    """
    try:
        clean = check_member(name)
    except InputError as err:
        raise OutputError(f"{root}: refusing to write {name!r}: {err.problem}") from None
    return Path(root) / clean


def member_paths(root: str | Path, names: Iterable[str]) -> list[str]:
    """`names` cleaned by `clean_members` and joined to `root` as strings (no Path per name).

    Raises:
        OutputError: a name is unsafe (the first one is named), as `safe_join` would.
    """
    names = names if isinstance(names, list) else list(names)
    clean, bad = clean_members(names)
    if bad.any():
        name = names[int(np.flatnonzero(bad)[0])]
        raise OutputError(f"{root}: refusing to write {name!r}: unsafe file name {name!r}")
    base = str(root)
    return [f"{base}/{c}" for c in clean.tolist()]


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, without decoding pixels.

    `width` and `height` are as displayed, i.e. after the EXIF orientation is applied;
    `stored_width`/`stored_height` are the pixel array's own.
    """

    width: int
    height: int
    stored_width: int
    stored_height: int
    orientation: int  # EXIF orientation tag 1..8; 1 = as stored
    format: str | None

    @property
    def rotated(self) -> bool:
        """True when EXIF orientation swaps width and height."""
        return self.orientation in (5, 6, 7, 8)


def probe_image(path: str | Path) -> ImageHeader:
    """Read an image's size and EXIF orientation from its header (no full decode).

    JPEG and PNG headers are parsed by `_image_header` (about 3x faster than Pillow, and a PNG
    is never decoded); any other file, or anything unusual in one, is read by Pillow.

    Raises:
        InputError: the file is missing or not an image Pillow can identify (or, past Pillow's
            decompression-bomb limit, one it refuses to open).
    """
    try:
        found = _image_header.read_header(path)
    except FileNotFoundError:
        raise InputError(path, "image file not found", hint="Check the file name in the labels") from None
    if found is not None:
        fmt, stored_w, stored_h, orientation = found
        w, h = (stored_h, stored_w) if orientation >= 5 else (stored_w, stored_h)
        return ImageHeader(w, h, stored_w, stored_h, orientation, fmt)
    from PIL import Image, UnidentifiedImageError  # lazy: convert/info avoid it when sizes are known

    try:
        with Image.open(path) as im:
            stored_w, stored_h = im.size
            fmt = im.format
            orientation = 1
            try:
                if fmt == "PNG":  # getexif() would decode a PNG to find a trailing eXIf chunk
                    exif = Image.Exif()
                    if "exif" in im.info:
                        exif.load(im.info["exif"])
                else:
                    exif = im.getexif()
                orientation = int(exif.get(0x0112, 1) or 1)
            except Exception:  # a broken EXIF block is not a broken image
                orientation = 1
    except FileNotFoundError:
        raise InputError(path, "image file not found", hint="Check the file name in the labels") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as err:
        raise InputError(path, f"not a readable image ({err})", hint="Re-export or remove the file") from None
    if orientation not in range(1, 9):
        orientation = 1
    w, h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    return ImageHeader(w, h, stored_w, stored_h, orientation, fmt)


def file_digest(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Content hash of a file (BLAKE2b, 128 bits, hex), for duplicate and leak checks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def transfer_files(pairs: Iterable[tuple[Path, Path]], mode: str) -> int:
    """Copy or link each ``(source, destination)`` pair; return how many were placed.

    `mode` is ``"copy"``, ``"link"`` (hard link, falling back to a copy across devices) or
    ``"none"``. Missing sources are skipped (validation reports them); parent folders are made.

    Raises:
        UsageError: unknown `mode`.
    """
    if mode not in IMAGE_MODES:
        raise UsageError(f"unknown images mode {mode!r}; choose one of {', '.join(IMAGE_MODES)}")
    if mode == "none":
        return 0
    made: set[Path] = set()
    placed = 0
    for src, dst in pairs:
        parent = dst.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        try:
            if mode == "link":
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
            else:
                shutil.copyfile(src, dst)
        except FileNotFoundError:
            continue
        placed += 1
    return placed


def read_yaml(path: str | Path) -> tuple[Any, Any]:
    """Parse a small YAML file safely: ``(document with string keys, node tree for line numbers)``.

    Raises:
        InputError: unreadable, too big, not YAML, or an alias bomb.
    """
    import yaml

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise InputError(p, f"cannot read the file ({err.strerror or err})", hint="Check its permissions") from None
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(p, f"file is {len(raw):,} bytes, too big for a YAML description", hint="Check the file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(p, f"not UTF-8 text (byte {err.start})", hint="Save the file as UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        size, depth = _expanded_size(node)
        if size > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
            raise InputError(
                p,
                f"YAML expands to {'over ' if size > MAX_YAML_NODES else ''}{min(size, MAX_YAML_NODES):,} values "
                f"nested {depth} deep (limits {MAX_YAML_NODES:,} and {MAX_YAML_DEPTH})",
                hint="Write the values out without &/* aliases or deep nesting",
            )
        doc = yaml.safe_load(text)
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise InputError(p, "YAML nested too deeply", hint="Flatten the structure") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(p, f"not valid YAML: {problem}", line=line, hint="Fix the YAML syntax") from None
    return _string_keys(doc), node


def _expanded_size(root: Any) -> tuple[int, int]:
    """``(values, depth)`` of a composed YAML node graph once aliases are expanded.

    Computed on the graph (shared nodes counted once per use, memoized), iteratively, so a
    "billion laughs" file or a deep nesting is measured without being built. A node that
    contains itself counts as unbounded.
    """
    import yaml

    memo: dict[int, tuple[int, int]] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            size = 1 + sum(memo[id(c)][0] for c in children)
            depth = 1 + max((memo[id(c)][1] for c in children), default=0)
            memo[key] = (min(size, MAX_YAML_NODES + 1), depth)
            continue
        if key in memo:
            continue
        if key in on_path:  # a recursive structure (&a [*a])
            return MAX_YAML_NODES + 1, MAX_YAML_DEPTH + 1
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.CollectionNode):
            stack.extend((c, False) for c in _children(node) if id(c) not in memo)
    return memo.get(id(root), (0, 0))


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # dates, binary
