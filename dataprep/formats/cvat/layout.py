"""Where a CVAT for images 1.1 export is: detection, its xml files and the image files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.errors import InputError
from dataprep.formats._annotation_tools import read_head

PROJECT_FILE = "annotations.xml"  # CVAT's name, for task and project exports alike
IMAGES_DIR = "images"


@dataclass
class Layout:
    """The dataset folder (``root``), its CVAT xml files and the image files found under it."""

    root: Path
    xml_files: list[Path]
    image_files: set[str]  # POSIX paths relative to root
    notes: list[str] = field(default_factory=list)


def is_cvat_xml(path: Path) -> bool:
    """True when the first element of `path` is ``<annotations>`` (VOC's is ``<annotation>``)."""
    head = re.sub(rb"<!--.*?-->", b"", read_head(path, 4096), flags=re.DOTALL)
    match = re.search(rb"<(?![?!])([A-Za-z_][\w.:-]*)", head)
    return bool(match) and match.group(1) == b"annotations"


def _xml_files(folder: Path) -> list[Path]:
    if (folder / PROJECT_FILE).is_file() and is_cvat_xml(folder / PROJECT_FILE):
        return [folder / PROJECT_FILE]
    return [p for p in sorted(folder.glob("*.xml")) if not p.name.startswith(".") and is_cvat_xml(p)]


def detect(path: Path) -> float | None:
    """0.95 for a CVAT xml file; 0.9 for a folder with ``annotations.xml`` or ``<subset>.xml`` files of CVAT's."""
    if path.is_file():
        return 0.95 if path.suffix.lower() == ".xml" and is_cvat_xml(path) else None
    if path.is_dir() and _xml_files(path):
        return 0.9
    return None


def _image_files(root: Path) -> set[str]:
    """Every file under ``root/images`` (else under root, one level deep), relative to root."""
    folder = root / IMAGES_DIR
    base = root if not folder.is_dir() else folder
    prefix = "" if base == root else IMAGES_DIR + "/"
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(base).as_posix()
        sub = prefix + ("" if rel == "." else rel + "/")
        found.update(sub + n for n in filenames)
        if base == root:
            break
    return found


def resolve_layout(path: Path) -> Layout:
    """The xml files (one given file, ``annotations.xml``, or every CVAT ``*.xml`` of the folder).

    Raises:
        InputError: no CVAT xml found.
    """
    if path.is_file():
        root, files = path.parent, [path]
    else:
        root, files = path, _xml_files(path)
    if not files:
        raise InputError(
            path,
            "no CVAT xml (root element <annotations>) found",
            hint="Export from CVAT as 'CVAT for images 1.1' and point at annotations.xml or its folder",
        )
    return Layout(root, files, _image_files(root))


def image_file_name(name: str, subset: str | None, image_files: set[str]) -> tuple[str, bool]:
    """Where an ``<image name=...>`` is: ``images/<subset>/name``, ``images/name`` or ``name``; and found?"""
    candidates = [f"{IMAGES_DIR}/{subset}/{name}"] if subset else []
    candidates += [f"{IMAGES_DIR}/{name}", name]
    for candidate in candidates:
        if candidate in image_files:
            return candidate, True
    return candidates[0], False
