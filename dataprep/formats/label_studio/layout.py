"""Where a Label Studio export is (detection, the json and label config files) and the image URL rule.

Image URL rule (`file_name_from_url`): a task's ``data.image`` becomes a path relative to the
folder of the export (``root``):

1. local storage ``/data/local-files/?d=<path>`` -> ``<path>`` (URL-decoded);
2. uploads ``/data/upload/<project>/<name>`` -> ``<name>`` (Label Studio's ``<8 hex>-`` prefix kept:
   it is part of the stored file's name);
3. ``http(s)://``, ``s3://``, ``gs://``, ``azure-blob://`` URLs -> the last path segment (remote
   images are not on disk; noted);
4. anything else is a path; leading ``/`` are Label Studio's URL root and are dropped.

The result must be a safe member path (`dataprep.files.clean_members`): ``..``, a drive or NUL
is refused with an error naming the task.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dataprep.errors import InputError
from dataprep.files import check_member
from dataprep.formats._annotation_tools import read_head, refuse_unsafe_xml

TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
LOCAL_FILES_PREFIX = "/data/local-files/?d="
_UPLOAD_RE = re.compile(r"^/?data/upload/\d+/")
_SLASHES_DRIVE = re.compile(r"/+[A-Za-z]:")
_REMOTE_SCHEMES = ("http", "https", "s3", "gs", "azure-blob", "gcs")
_HEAD_BYTES = 65536


@dataclass
class Layout:
    """The export folder (``root``), its json file and its label config (if any)."""

    root: Path
    json_file: Path
    config: Path | None
    notes: list[str] = field(default_factory=list)


def is_label_studio_json(path: Path) -> bool:
    """A json list whose first task has ``data`` + ``annotations``/``predictions``, or JSON-MIN's ``image``."""
    head = read_head(path, _HEAD_BYTES).lstrip()
    if head[:1] != b"[":
        return False
    full = b'"data"' in head and (b'"annotations"' in head or b'"predictions"' in head)
    minimal = b'"image"' in head and any(k in head for k in (b'labels"', b'"choices"', b'"original_width"'))
    return full or minimal


def _json_files(folder: Path, *, limit: int = 20) -> list[Path]:
    """The Label Studio exports of a folder; one of more than `limit` json files (a folder of
    per-image json files, LabelMe's) is only looked at when it is ``tasks.json``."""
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.lower().endswith(".json") and not e.name.startswith("."))
    if len(names) > limit:
        names = [TASKS_FILE] if TASKS_FILE in names else []
    return [folder / n for n in names if is_label_studio_json(folder / n)]


def detect(path: Path) -> float | None:
    """0.9 for a Label Studio json export, or a folder holding exactly one (else 0.5: which one is unclear)."""
    if path.is_file():
        return 0.9 if path.suffix.lower() == ".json" and is_label_studio_json(path) else None
    if not path.is_dir():
        return None
    found = _json_files(path)
    if not found:
        return None
    return 0.9 if len(found) == 1 or (path / TASKS_FILE) in found else 0.5


def _config_for(folder: Path, json_file: Path) -> Path | None:
    """The json's own config (``<stem>_label_config.xml``, with ``data_``/``_data`` cut from the stem
    also ``<base>_label_config.xml`` and ``label_config_<base>.xml``), else ``label_config.xml``."""
    stem = json_file.stem
    base = stem.removeprefix("data_").removesuffix("_data")
    for name in (f"{stem}_{CONFIG_FILE}", f"{base}_{CONFIG_FILE}", f"label_config_{base}.xml", CONFIG_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


def resolve_layout(path: Path) -> Layout:
    """The export json (`path` itself, ``tasks.json``, or the folder's only Label Studio json).

    Raises:
        InputError: none found, or several without a ``tasks.json`` among them.
    """
    if path.is_file():
        return Layout(path.parent, path, _config_for(path.parent, path))
    found = _json_files(path)
    if (path / TASKS_FILE) in found:
        found = [path / TASKS_FILE]
    if len(found) != 1:
        problem = "no Label Studio json export found" if not found else f"{len(found)} Label Studio json files"
        raise InputError(path, problem, hint="Pass the export's json file itself")
    return Layout(path, found[0], _config_for(path, found[0]))


def check_safe_xml(data: bytes, path: str) -> None:
    """Refuse a label config with a DOCTYPE or ENTITY declaration.

    Raises:
        InputError: one was found.
    """
    refuse_unsafe_xml(data, path, hint="Label Studio configs never need one; remove the declaration")


def file_name_from_url(url: str, *, path: str, record: str) -> tuple[str, bool]:
    """``data.image`` -> ``(file name relative to the export folder, remote?)`` by the module's rule.

    Raises:
        InputError: the name would leave the folder (``..``, a drive, NUL) or is empty.
    """
    name, remote = url_path(url)
    return check_member(name, path=path, record=record), remote


def url_path(url: str) -> tuple[str, bool]:
    """`file_name_from_url` before the safe-path rule (`dataprep.files.clean_members`): ``(name, remote?)``."""
    text = url.strip()
    remote = False
    if "?d=" in text:
        name = unquote(text.split("?d=", 1)[1])
    elif _UPLOAD_RE.match(text):
        name = _UPLOAD_RE.sub("", text)
    elif urlsplit(text).scheme.lower() in _REMOTE_SCHEMES:
        name, remote = posixpath.basename(unquote(urlsplit(text).path)), True
    else:
        name = text
    name = name.replace("\\", "/")
    if name.startswith("/") and not _SLASHES_DRIVE.match(name):  # "/C:/x" keeps its drive, refused below
        name = name.lstrip("/")
    return name, remote
