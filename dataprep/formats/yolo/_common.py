"""What the YOLO reader's steps share: the error policy with its notes, a directory-listing cache, path helpers."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.errors import Finding, InputError
from dataprep.files import IMAGE_SUFFIXES
from dataprep.formats.base import MAX_EXAMPLES

NAMES_FILES = ("obj.names", "classes.names", "classes.txt", "names.txt")
CONFIG_YAMLS = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
# .txt files that sit among labels but are not label files.
NOT_LABELS = frozenset(
    {"readme.txt", "license.txt", "licence.txt", "notes.txt", "train.txt", "val.txt", "valid.txt", "test.txt"}
    | set(NAMES_FILES)
)
ORPHAN_HINT = (
    "Add the image (same name, in the matching images folder), delete the label file, or use --on-error collect"
)


@dataclass
class ReadContext:
    """Error policy and what the reader says about its guesses."""

    on_error: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, err: InputError, code: str) -> None:
        """Raise `err` (``on_error="raise"``) or keep it as a finding with `code`."""
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


class Listing:
    """Cached directory listings: one ``os.listdir`` per folder instead of a stat per file."""

    def __init__(self) -> None:
        self._cache: dict[str, frozenset[str]] = {}
        self.walked: dict[str, list[str]] = {}  # folder -> image files under it (see `paths.walk_images`)

    def names(self, folder: str) -> frozenset[str]:
        """Entries of `folder` (empty when it cannot be listed)."""
        try:
            return self._cache[folder]
        except KeyError:
            try:
                found = frozenset(os.listdir(folder))
            except OSError:
                found = frozenset()
            self._cache[folder] = found
            return found

    def add(self, folder: str, names: Iterable[str]) -> None:
        """Record a listing made elsewhere (``os.walk``)."""
        self._cache[folder] = frozenset(names)

    def folders(self) -> list[str]:
        """Every folder listed so far, sorted."""
        return sorted(self._cache)

    def exists(self, path: str) -> bool:
        """True when `path` is in its folder's listing."""
        folder, _, name = path.rpartition(os.sep)
        return name in self.names(folder or os.sep)


def is_image(name: str) -> bool:
    """True for a file name with an image suffix (not a bare ``.jpg``)."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES


def relative(paths: list[str], root: str) -> list[str]:
    """POSIX paths of `paths` relative to `root` (a string prefix cut where it is one: 50k
    `os.path.relpath` calls cost seconds)."""
    prefix = root.rstrip(os.sep) + os.sep
    cut = len(prefix)
    out = [p[cut:] if p.startswith(prefix) else os.path.relpath(p, root) for p in paths]
    return [p.replace(os.sep, "/") for p in out] if os.sep != "/" else out


def read_text(path: str, *, what: str) -> str:
    """A small UTF-8 text file (config, names, image list) without its BOM.

    Raises:
        InputError: unreadable, binary or not UTF-8 (naming the line).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read the {what}: {err.strerror or err}", hint="Check the file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise InputError(path, f"the {what} holds binary data (NUL bytes)", hint="Replace it with a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            path, f"the {what} is not UTF-8 text (byte 0x{data[err.start]:02x})", line=line, hint="Save it as UTF-8"
        ) from None


def short(values: list[Any], n: int = MAX_EXAMPLES) -> str:
    """The first `n` values, comma-separated, with how many more."""
    text = ", ".join(str(v) for v in values[:n])
    return text + (f" (+{len(values) - n} more)" if len(values) > n else "")
