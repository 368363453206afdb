"""Pairing images with their label files, and finding label files that have no image."""

from __future__ import annotations

import os

from dataprep.errors import InputError
from dataprep.formats.yolo._common import NOT_LABELS, ORPHAN_HINT, Listing, ReadContext, is_image
from dataprep.formats.yolo.layout import MIRRORS, Layout, label_dirs, label_name


def expected_label(image_path: str) -> str:
    """`label_path_for` on an absolute OS path (where a missing label file would be)."""
    folder, name = os.path.dirname(image_path), os.path.basename(image_path)
    return os.path.join(label_dirs(folder)[0], label_name(name))


def _image_dir_of(label_dir: str) -> str:
    """The image folder a label folder mirrors (inverse of `label_dirs`), or itself."""
    parts = label_dir.split(os.sep)
    for img_name, lbl_name in MIRRORS:
        if lbl_name in parts:
            i = len(parts) - 1 - parts[::-1].index(lbl_name)
            return os.sep.join([*parts[:i], img_name, *parts[i + 1 :]])
    return label_dir


def pair_labels(layout: Layout, image_paths: list[str], ctx: ReadContext) -> list[str | None]:
    """The label file of each image (or None), reporting label files whose image does not exist.

    Raises:
        InputError: a loose folder with neither images nor labels; an orphan label file
            (``on_error="raise"``).
    """
    listing = layout.listing
    labels, scan, used = _match_labels(image_paths, listing)
    # split folders the config names but that hold no image: their label folders still get
    # looked at, so orphan labels there are reported rather than silently skipped
    for image_dir in listing.walked:
        for label_dir in label_dirs(image_dir)[:-1]:
            if label_dir not in scan and listing.names(label_dir):
                scan[label_dir] = image_dir
    if layout.kind == "loose":  # label folders without any image folder beside them
        for folder in listing.folders():
            if folder not in scan and any(lbl in folder.split(os.sep) for _, lbl in MIRRORS):
                scan[folder] = _image_dir_of(folder)
    skip = {layout.config} if layout.config else set()
    if layout.names_source:
        skip.add(os.path.join(os.path.dirname(layout.config) if layout.config else layout.root, layout.names_source))
    orphans, unlisted = _orphan_labels(scan, used, listing, skip)
    if unlisted:
        ctx.notes.append(f"{unlisted} label files belong to images that no split lists: not read")
    if layout.kind == "loose" and not image_paths and not orphans:
        raise InputError(
            layout.root, "no images found", hint="A YOLO dataset needs its images to turn normalized labels into pixels"
        )
    for p in orphans:
        ctx.fail(
            InputError(p, "label file without an image: its boxes cannot be turned into pixels", hint=ORPHAN_HINT),
            "label-without-image",
        )
    return labels


def _match_labels(
    image_paths: list[str], listing: Listing
) -> tuple[list[str | None], dict[str, str], dict[str, set[str]]]:
    """The label file of each image (or None), the label folders in use -> their image folder,
    and the label file names each of those folders gave."""
    labels: list[str | None] = []
    cands_by_dir: dict[str, list[tuple[str, frozenset[str], set[str]]]] = {}
    scan: dict[str, str] = {}
    used: dict[str, set[str]] = {}
    for p in image_paths:
        folder, _, name = p.rpartition(os.sep)
        cands = cands_by_dir.get(folder)
        if cands is None:
            mirrors = [d for d in label_dirs(folder)[:-1] if listing.names(d)]
            for d in mirrors:
                scan.setdefault(d, folder)
            cands = cands_by_dir[folder] = [
                (d, listing.names(d), used.setdefault(d, set())) for d in [*mirrors, folder]
            ]
        wanted = label_name(name)
        for d, names, taken in cands:
            if wanted in names:
                labels.append(d + os.sep + wanted)
                taken.add(wanted)
                scan.setdefault(d, folder)
                break
        else:
            labels.append(None)
    return labels, scan, used


def _orphan_labels(
    scan: dict[str, str], used: dict[str, set[str]], listing: Listing, skip: set[str]
) -> tuple[list[str], int]:
    """Label files whose image does not exist, and the count of labels of unlisted images."""
    orphans: list[str] = []
    unlisted = 0
    for label_dir, image_dir in scan.items():
        txt = {n for n in listing.names(label_dir) if n[-4:].lower() == ".txt" and n.lower() not in NOT_LABELS}
        txt -= used.get(label_dir, set())
        txt = {n for n in txt if label_dir + os.sep + n not in skip}
        if not txt:
            continue
        stems = {n.rsplit(".", 1)[0] for n in listing.names(image_dir) if is_image(n)}
        for name in sorted(txt):
            if name[:-4] in stems:
                unlisted += 1
            elif os.path.isfile(label_dir + os.sep + name):
                orphans.append(label_dir + os.sep + name)
    return orphans, unlisted
