"""Where LabelMe files are: detection, the json files of a folder, ``labels.txt``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.errors import InputError
from dataprep.formats._annotation_tools import read_head

LABELS_FILE = "labels.txt"
# LabelMe's converters (labelme2voc.py, labelme2coco.py): line 1 of labels.txt is "__ignore__"
# (shapes to skip), line 2 "_background_" (class 0 of the semantic masks); neither is an object class.
IGNORE_LABEL = "__ignore__"
BACKGROUND_LABEL = "_background_"
_HEAD_BYTES = 65536


@dataclass
class Layout:
    """The dataset folder (``root``), its LabelMe json files (relative POSIX paths) and notes."""

    root: Path
    files: list[str]
    notes: list[str] = field(default_factory=list)


def _looks_like_labelme(path: Path) -> bool:
    head = read_head(path, _HEAD_BYTES)
    return head.lstrip()[:1] == b"{" and b'"shapes"' in head and (b'"imagePath"' in head or b'"imageHeight"' in head)


def _json_files(root: Path) -> list[str]:
    """Every ``*.json`` below `root` (hidden files and folders skipped), sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        found += [prefix + n for n in filenames if n.lower().endswith(".json") and not n.startswith(".")]
    return sorted(found)


def detect(path: Path) -> float | None:
    """0.9 for a LabelMe json file, or a folder whose first json files (top level or one below) are."""
    if path.is_file():
        return 0.9 if path.suffix.lower() == ".json" and _looks_like_labelme(path) else None
    if not path.is_dir():
        return None
    candidates = _first_json(path)
    if not candidates:  # one level down: LabelMe folders per class or per session
        with os.scandir(path) as entries:
            subdirs = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
        candidates = [c for d in subdirs[:5] for c in _first_json(path / d)][:3]
    return 0.9 if candidates and all(_looks_like_labelme(p) for p in candidates) else None


def _first_json(folder: Path) -> list[Path]:
    """Up to 3 json files of `folder` in name order (names sorted as strings: fast on 100k files)."""
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.lower().endswith(".json") and not e.name.startswith("."))
    return [folder / n for n in names[:3]]


def resolve_layout(path: Path) -> Layout:
    """The json files to read: `path` itself when a file, else every json below the folder.

    Raises:
        InputError: no json file found.
    """
    if path.is_file():
        return Layout(path.parent, [path.name])
    files = _json_files(path)
    if not files:
        raise InputError(path, "no LabelMe .json files found", hint="Point at the folder holding the .json files")
    return Layout(path, files)


def read_labels_file(root: Path, notes: list[str]) -> list[str] | None:
    """Class names from ``labels.txt`` in file order, without ``__ignore__``/``_background_``; None when absent."""
    path = root / LABELS_FILE
    if not path.is_file():
        return None
    names: list[str] = []
    skipped: list[str] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        name = line.strip()
        if not name:
            continue
        if name in (IGNORE_LABEL, BACKGROUND_LABEL):
            skipped.append(name)
        elif name not in names:
            names.append(name)
    if skipped:
        notes.append(f"{LABELS_FILE}: {' and '.join(skipped)} are not object classes (LabelMe's converters' rule)")
    return names
