"""Paths in YOLO configs and image lists, and the images -> labels rule.

`resolve` finds what a ``data.yaml``/``obj.data`` entry or a list line names, forgiving the
paths other tools write (relative to another folder, absolute from another machine);
`list_file` reads a ``.txt`` list of images; `walk_images` lists a folder of images;
`label_path_for` is the images -> labels rule, kept here once for the reader and for validation.
"""

from __future__ import annotations

import os
from typing import Any

from dataprep.formats.yolo._common import Listing, ReadContext, is_image, read_text

# (image folder, label folder) pairs: Ultralytics replaces the last `images` component with
# `labels`; darknet's VOC scripts put labels/ beside JPEGImages/; datumaro's loose YOLO layout
# pairs Images/ with Annotations/. A label beside its image is the last resort (darknet).
MIRRORS = (("images", "labels"), ("JPEGImages", "labels"), ("Images", "Annotations"))


def walk_images(top: str, listing: Listing) -> list[str]:
    """Image files under `top`, recursively (hidden folders skipped), sorted."""
    if top in listing.walked:
        return listing.walked[top]
    found: list[str] = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        listing.add(folder, [*files, *dirs])
        prefix = folder.rstrip(os.sep) + os.sep
        found.extend(prefix + f for f in files if is_image(f))
    listing.walked[top] = sorted(found)
    return listing.walked[top]


def norm_parts(text: str) -> list[str]:
    """The components of a config or list entry (``\\`` read as ``/``; empty and ``.`` dropped)."""
    return [p for p in text.strip().replace("\\", "/").split("/") if p not in ("", ".")]


def resolve(text: str, bases: list[str], exists: Any = os.path.exists) -> tuple[str, int] | None:
    """Find the file or folder a config or list entry names: ``(base, parts dropped)`` or None.

    Tried in order: the entry under each base; then with leading components dropped one at a
    time (``../train/images`` from a Roboflow data.yaml, ``data/obj_train_data/1.jpg`` from a
    darknet list made for darknet's own ``data/`` folder, absolute paths from another machine).
    An absolute entry that exists is used as it is (base ``""``). `resolved` turns the answer
    into the path.
    """
    raw = text.strip().replace("\\", "/")
    if os.path.isabs(raw) and exists(os.path.normpath(raw)):
        return "", 0
    parts = norm_parts(raw)
    if not parts:  # "." names the base folder itself
        return (bases[0], 0) if bases and exists(bases[0]) else None
    for drop in range(len(parts)):
        rest = parts[drop:]
        if drop and rest[0] == "..":
            continue
        for base in bases:
            if exists(os.path.normpath(os.path.join(base, *rest))):
                return base, drop
    return None


def resolved(text: str, how: tuple[str, int]) -> str:
    """The normalized path of entry `text` under the ``(base, parts dropped)`` that `resolve` found."""
    base, drop = how
    if not base:
        return os.path.normpath(text.strip().replace("\\", "/"))
    return os.path.normpath(os.path.join(base, *norm_parts(text)[drop:]))


def list_file(list_path: str, bases: list[str], ctx: ReadContext, listing: Listing) -> list[str]:
    """Absolute image paths listed one per line in a darknet/Ultralytics .txt list."""
    text = read_text(list_path, what="image list")
    lines = [s for s in (line.strip() for line in text.split("\n")) if s and not s.startswith("#")]
    out: list[str] = []
    how: tuple[str, int] | None = None
    unresolved = 0
    for line in lines:
        if how is not None:
            candidate = resolved(line, how)
            if listing.exists(candidate):
                out.append(candidate)
                continue
        found = resolve(line, bases, exists=listing.exists)
        if found is None:  # the image is missing: its label file still says where the list points
            found = resolve(label_path_for(line), bases, exists=listing.exists) or resolve(
                label_name(line), bases, exists=listing.exists
            )
            if found is not None:
                how = found
        if found is None or not listing.exists(resolved(line, found)):
            unresolved += 1
            out.append(resolved(line, how or (bases[0], 0)))
            continue
        how = found
        out.append(resolved(line, how))
    if unresolved:
        ctx.notes.append(
            f"{os.path.basename(list_path)}: {unresolved} listed images not found"
            " (kept without size; validate reports them)"
        )
    return out


def label_path_for(image_file: str) -> str:
    """Where the label file of `image_file` is looked for first, as a POSIX path.

    The last ``images`` component becomes ``labels`` (Ultralytics' ``img2label_paths``; else the
    last ``JPEGImages`` becomes ``labels``, the last ``Images`` becomes ``Annotations``; else the
    label sits beside the image) and the last suffix becomes ``.txt``:
    ``data/images/train/a.b.jpg`` -> ``data/labels/train/a.b.txt``. Backslashes count as ``/``.
    The reader matches label files by this rule (then tries the other mirrors and the image's own folder).
    """
    folder, _, name = image_file.replace("\\", "/").rpartition("/")
    label_dir = label_dirs(folder, "/")[0]
    return (f"{label_dir}/" if folder else "") + label_name(name)


def label_name(image_name: str) -> str:
    """``a.b.jpg`` -> ``a.b.txt``: the part after the last dot becomes ``txt``."""
    return image_name.rsplit(".", 1)[0] + ".txt"


def label_dirs(image_dir: str, sep: str = os.sep) -> list[str]:
    """Folders that may hold the labels of images in `image_dir` (mirrors first, then itself)."""
    parts = image_dir.split(sep)
    out = []
    for img_name, lbl_name in MIRRORS:
        if img_name in parts:
            i = len(parts) - 1 - parts[::-1].index(img_name)
            out.append(sep.join([*parts[:i], lbl_name, *parts[i + 1 :]]))
    out.append(image_dir)
    return out
