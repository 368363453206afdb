"""Image classification as one folder per class (ImageNet / torchvision ``ImageFolder`` style).

Layouts read::

    <root>/<class>/<image>                 no splits
    <root>/<split>/<class>/<image>         split folders: train, val (also valid, validation), test, trainval

Folders below a class folder belong to that class (``cat/indoor/1.jpg`` is a ``cat``).
Images with no class folder (at the root, or directly in a split folder) are images without a
label. Categories are the class folder names in plain sorted order (what ``ImageFolder`` and
Ultralytics use), ids 1..C; a class folder with no image is still a category. Each label is an
annotation row with a NaN box. Images are not opened (widths and heights stay ``<NA>``).

The writer puts each image in ``<split>/<class>/<name>`` (``<class>/<name>`` without splits) and
creates every class folder in every split folder, so class lists agree across splits. ``<name>``
keeps the sub-folders below the source's own layout folders (split, class, ``images``), which are
dropped, so re-split data does not nest its old ``<split>/<class>/`` path; names that then clash
get ``_<image_id>`` and are reported as ``file-renamed``. An image
whose annotations name several classes goes under its most frequent class (ties: the lowest
``category_id``) and the other classes are reported as ``multi-label-dropped``; an image
without labels is written as a plain file at the top of its split folder, which this reader
reads back as an image without a label.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import InputError
from dataprep.files import IMAGE_SUFFIXES, member_paths, safe_join
from dataprep.formats._classification import (
    dedupe_paths,
    id_change_loss,
    label_table,
    renamed_loss,
    sanitize_names,
)
from dataprep.formats.base import (
    MAX_EXAMPLES,
    SPLIT_ALIASES,
    Capabilities,
    FormatSpec,
    Loss,
    OnError,
    ReadResult,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)

NAME = "folders"
CAPABILITIES = Capabilities(boxes=False, image_level_labels=True, splits=True)

# Files whose presence says "this tree has label files": a detection format, not class folders.
_LABEL_SUFFIXES = frozenset({".txt", ".xml", ".json", ".csv", ".yaml", ".yml"})
_META_SUFFIXES = frozenset({".json", ".xml", ".csv", ".yaml", ".yml", ".data", ".names"})
_DETECT_DIRS = 20  # class folders looked at by `detect`
_DETECT_ENTRIES = 64  # entries looked at per folder by `detect`


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


# -- detect ------------------------------------------------------------------------------


def _peek(path: str) -> tuple[list[str], list[str]]:
    """Up to `_DETECT_ENTRIES` (dirs, files) names directly inside `path`."""
    dirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(path) as it:
            for n, entry in enumerate(it):
                if n >= _DETECT_ENTRIES:
                    break
                if _hidden(entry.name):
                    continue
                try:
                    (dirs if entry.is_dir() else files).append(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return dirs, files


def detect(path: Path) -> float | None:
    """0.5 for a folder whose sub-folders (or split/sub-folders) hold images and no label files.

    Lower than the detection formats on purpose: a YOLO, VOC or COCO tree also has folders of
    images, but it has label files beside them, which rules this format out.
    """
    if not path.is_dir():
        return None
    try:
        entries = sorted((e for e in os.scandir(path) if not _hidden(e.name)), key=lambda e: e.name)
    except OSError:
        return None
    top_dirs = [e.name for e in entries if _safe_is_dir(e)]
    top_files = [e.name for e in entries if not _safe_is_dir(e)]
    if not top_dirs:
        return None
    found_images = False
    for name in top_dirs[:_DETECT_DIRS]:
        sub = os.path.join(path, name)
        dirs, files = _peek(sub)
        if any(os.path.splitext(f)[1].lower() in _LABEL_SUFFIXES for f in files):
            return None
        found_images |= any(_is_image(f) for f in files)
        for inner in dirs[:_DETECT_DIRS]:
            _, inner_files = _peek(os.path.join(sub, inner))
            if any(os.path.splitext(f)[1].lower() in _LABEL_SUFFIXES for f in inner_files):
                return None
            found_images |= any(_is_image(f) for f in inner_files)
    if not found_images:
        return None
    if any(os.path.splitext(f)[1].lower() in _META_SUFFIXES for f in top_files):
        return 0.2  # a csv/yaml/json beside the folders: another format most likely owns this tree
    return 0.5


def _safe_is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


# -- read --------------------------------------------------------------------------------


def _walk_images(root: str, rel: str, out: list[str], skipped: list[str]) -> None:
    """Append the POSIX paths (relative to `root`) of every image below `root/rel` to `out`.

    Follows symlinked folders (datasets are often assembled with ``ln -s``) but never the same
    folder twice, and never one that points at or above the class folder or out of `root`
    (``ln -s .. train/0/up`` labelled every other class as class 0: issue 7, item 2). Non-image
    files go to `skipped`; folder links not followed too, as ``name/``.
    """
    seen: set[tuple[int, int]] = set()
    base = os.path.realpath(root)
    start = os.path.realpath(os.path.join(root, rel))
    stack = [rel]
    while stack:
        current = stack.pop()
        full = os.path.join(root, current)
        try:
            st = os.stat(full)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            with os.scandir(full) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if _hidden(entry.name):
                continue
            child = f"{current}/{entry.name}" if current else entry.name
            if _safe_is_dir(entry):
                if entry.is_symlink() and not _link_inside(os.path.realpath(entry.path), base, start):
                    skipped.append(child + "/")
                    continue
                stack.append(child)
            elif _is_image(entry.name):
                out.append(child)
            else:
                skipped.append(child)


def _link_inside(real: str, base: str, start: str) -> bool:
    """True when a folder link's target `real` lies inside `base` and below (not above) `start`."""
    below = real.startswith(base.rstrip(os.sep) + os.sep) or real == base
    return below and not (start == real or start.startswith(real.rstrip(os.sep) + os.sep))


def _check_names(paths: list[str], root: Path, on_error: OnError, findings: list) -> list[str]:
    """Drop (collect) or reject (raise) file names that are not valid UTF-8."""
    try:
        "\n".join(paths).encode("utf-8")
        return paths
    except UnicodeEncodeError:
        pass
    good = []
    for p in paths:
        try:
            p.encode("utf-8")
            good.append(p)
        except UnicodeEncodeError:
            err = InputError(
                root / p,
                f"file name {p.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8",
                record=p.encode("utf-8", "backslashreplace").decode("ascii"),
                hint="Rename the file with UTF-8 characters (e.g. `convmv -f latin1 -t utf8`)",
            )
            if on_error == "raise":
                raise err from None
            findings.append(err.to_finding("file-name-encoding"))
    return good


@dataclass
class _Scan:
    """Every image found, with its split and class folder (None: no class), in walk order."""

    file_names: list[str] = field(default_factory=list)
    split: list[str | None] = field(default_factory=list)
    klass: list[str | None] = field(default_factory=list)
    class_dir: list[str | None] = field(default_factory=list)
    class_names: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)

    def add(self, names: list[str], split: str | None, klass: str | None, class_dir: str | None) -> None:
        self.file_names.extend(names)
        self.split.extend([split] * len(names))
        self.klass.extend([klass] * len(names))
        self.class_dir.extend([class_dir] * len(names))

    def keep(self, good: set[str]) -> None:
        """Keep only the images whose file name is in `good`."""
        mask = [f in good for f in self.file_names]
        for name in ("file_names", "split", "klass", "class_dir"):
            setattr(self, name, [v for v, m in zip(getattr(self, name), mask, strict=True) if m])


def _sorted_entries(folder: Path) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(folder) if not _hidden(e.name)), key=lambda e: e.name)


def _add_class_tree(scan: _Scan, root: Path, prefix: str, split: str | None, entries: list[os.DirEntry]) -> None:
    """Scan the class folders (and loose images) among `entries`, the contents of ``root/prefix``."""
    for entry in entries:
        rel = f"{prefix}/{entry.name}" if prefix else entry.name
        if _safe_is_dir(entry):
            scan.class_names.add(entry.name)
            found: list[str] = []
            _walk_images(str(root), rel, found, scan.skipped)
            scan.add(found, split, entry.name, rel)
        elif _is_image(entry.name):
            scan.add([rel], split, None, None)
        elif prefix:
            scan.skipped.append(rel)


def _split_folders(root: Path, top_dirs: list[str]) -> bool:
    """Whether the top-level folders are splits: all known split names, or one known and every one a
    folder of class folders (custom split names such as ``v2`` or ``fold3`` beside ``train``)."""
    known = [d.lower() in SPLIT_ALIASES for d in top_dirs]
    if not top_dirs or all(known):
        return bool(top_dirs)
    if not any(known):
        return False
    return all(any(_safe_is_dir(e) for e in _sorted_entries(root / d)) for d in top_dirs)


def _scan(root: Path, splits: bool | None, notes: list[str]) -> _Scan:
    """Find every image below `root`: split folders of class folders, or class folders."""
    top = _sorted_entries(root)
    top_dirs = [e.name for e in top if _safe_is_dir(e)]
    top_images = [e.name for e in top if not _safe_is_dir(e) and _is_image(e.name)]
    if splits is None:
        splits = _split_folders(root, top_dirs)
    scan = _Scan()
    if splits:
        renamed = sorted({d for d in top_dirs if SPLIT_ALIASES.get(d.lower(), d) not in (d, None)})
        notes.append("layout: split folders " + ", ".join(top_dirs))
        if renamed:
            notes.append("split folders read as: " + ", ".join(f"{d} -> {SPLIT_ALIASES[d.lower()]}" for d in renamed))
        for d in top_dirs:
            _add_class_tree(scan, root, d, SPLIT_ALIASES.get(d.lower(), d), _sorted_entries(root / d))
        for name in top_images:
            scan.add([name], None, None, None)
    else:
        notes.append("layout: class folders at the top level")
        _add_class_tree(scan, root, "", None, top)
    return scan


def read(
    path: Path,
    *,
    on_error: OnError = "raise",
    provenance: bool = False,
    splits: bool | None = None,
) -> ReadResult:
    """Read a class-per-folder tree.

    Args:
        path: the dataset root folder.
        on_error: ``"collect"`` skips files whose names are not valid UTF-8 (as findings).
        provenance: also return where each row came from (the image path, its class folder).
        splits: ``True`` reads the top-level folders as splits whatever their names, ``False``
            reads them as classes; ``None`` treats them as splits when every one is a known split
            name (train, val, valid, validation, test, trainval).

    Raises:
        InputError: `path` is not a folder or holds no image.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(root, "not a folder", hint="The folders format reads a folder with one sub-folder per class")
    notes: list[str] = []
    findings: list = []
    # 1. layout and 2. scan: every image with its split and class folder
    scan = _scan(root, splits, notes)
    if not scan.file_names:
        raise InputError(
            root,
            "no image files found in class folders",
            hint="Expected <class>/<image> or <split>/<class>/<image> with image suffixes "
            + ", ".join(sorted(IMAGE_SUFFIXES)),
        )
    keep = set(_check_names(scan.file_names, root, on_error, findings))
    if len(keep) != len(scan.file_names):
        scan.keep(keep)
    # 3. tables
    frame = pd.DataFrame(
        {"file_name": scan.file_names, "split": scan.split, "class": scan.klass, "class_dir": scan.class_dir}
    ).sort_values("file_name", kind="stable", ignore_index=True)
    names = sorted(c for c in scan.class_names if _utf8(c))
    ds = _dataset(frame, names, root)
    _note_scan(frame, names, scan.skipped, notes)
    # 4. the result, with where each row came from when asked
    result = ReadResult(ds, NAME, findings=findings, notes=notes)
    if provenance:
        labelled = frame["class"].notna().to_numpy()
        result.image_sources = pd.DataFrame({"file": frame["file_name"].to_numpy()}, index=ds.images.index)
        lab = frame[labelled]
        result.annotation_sources = pd.DataFrame(
            {
                "file": lab["file_name"].to_numpy(),
                "line": pd.array([pd.NA] * int(labelled.sum()), dtype="Int64"),
                "record": lab["class_dir"].to_numpy(),
            },
            index=pd.Index(ds.annotations.index.to_numpy(), name="annotation_id"),
        )
    return result


def _dataset(frame: pd.DataFrame, names: list[str], root: Path) -> Dataset:
    """Images 1..N in `frame` order, categories 1..C in `names` order, one annotation per class folder image."""
    n = len(frame)
    image_ids = np.arange(1, n + 1, dtype=np.int64)
    categories = pd.DataFrame({"category_id": np.arange(1, len(names) + 1, dtype=np.int64), "name": names})
    cat_of = pd.Series(categories["category_id"].to_numpy(), index=pd.Index(names, dtype=object))
    labelled = frame["class"].notna().to_numpy()
    m = int(labelled.sum())
    annotations = pd.DataFrame(
        {
            "annotation_id": np.arange(1, m + 1, dtype=np.int64),
            "image_id": image_ids[labelled],
            "category_id": cat_of.reindex(frame["class"][labelled].to_numpy()).to_numpy(dtype=np.int64),
        }
    )
    images = pd.DataFrame(
        {
            "image_id": image_ids,
            "file_name": frame["file_name"],
            "split": frame["split"].astype(object).where(frame["split"].notna(), np.nan),
        }
    )
    return Dataset.from_frames(images, annotations, categories, root=root)


def _note_scan(frame: pd.DataFrame, names: list[str], skipped: list[str], notes: list[str]) -> None:
    """Notes on images without a class, files that are not images, class folders without images."""
    labelled = frame["class"].notna().to_numpy()
    unlabeled = len(frame) - int(labelled.sum())
    if unlabeled:
        examples = frame["file_name"][~labelled].head(3).tolist()
        notes.append(
            f"{unlabeled} image(s) outside any class folder read as images without a label (e.g. {', '.join(examples)})"
        )
    links = sorted(s for s in skipped if s.endswith("/"))
    files = sorted(s for s in skipped if not s.endswith("/"))
    if files:
        notes.append(f"ignored {len(files)} non-image file(s) (e.g. {', '.join(files[:3])})")
    if links:
        notes.append(
            f"did not follow {len(links)} folder symlink(s) pointing at or above their class folder or out of "
            f"the dataset (e.g. {', '.join(links[:3])})"
        )
    empty = sorted(set(names) - set(frame["class"].dropna()))
    if empty:
        notes.append(f"{len(empty)} class folder(s) without images kept as categories: {', '.join(empty[:5])}")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- write -------------------------------------------------------------------------------


# Folder names that belong to a source layout, not to the images: dropped from paths below a class.
_LAYOUT_DIRS = frozenset({"images", "jpegimages", "img", "imgs", *SPLIT_ALIASES})


def _below_class(names: list[str], layout_dirs: set[str]) -> list[str]:
    """Each name without its folders up to and including the last one named in `layout_dirs`
    (lower case): a source's split, class or ``images`` folders (``train/3/a.png`` -> ``a.png``),
    while sub-folders below them stay (``cat/deep/2.jpg`` -> ``deep/2.jpg``).

    After a re-split the images of one new split come from several old ``<split>/<class>/``
    folders, so no common prefix removes them; kept, they nested under the new class folder.
    """
    out = []
    for name in names:
        parts = name.split("/")
        cut = max((i + 1 for i, p in enumerate(parts[:-1]) if p.lower() in layout_dirs), default=0)
        out.append("/".join(parts[cut:]))
    return out


def _one_class_per_image(ds: Dataset) -> tuple[pd.Series, list[Loss]]:
    """The class each image goes under (its most frequent, ties: lowest id), by image_id; the losses."""
    labels, losses = label_table(ds)
    n_labels = labels.groupby("image_id").size()
    multi = n_labels.index[n_labels.to_numpy() > 1]
    if len(multi):
        dropped = int(n_labels[n_labels > 1].sum() - len(multi))
        losses.append(
            Loss(
                "multi-label-dropped",
                f"{NAME} holds one class per image: {len(multi)} image(s) with several classes written under their "
                f"most frequent class (ties: lowest category_id); {dropped} other class label(s) dropped",
                len(multi),
                [int(i) for i in multi[:MAX_EXAMPLES]],
                unit="image",
            )
        )
    return labels.drop_duplicates("image_id").set_index("image_id")["category_id"], losses


def _class_folders(cats: pd.DataFrame) -> tuple[pd.Series, list[Loss]]:
    """Folder name per category_id, and the renamed / id-changed losses."""
    losses = []
    folder = sanitize_names(cats["name"])
    loss = renamed_loss(cats["name"], folder, what="class", format_name=NAME)
    if loss:
        losses.append(loss)
    order = sorted(cats.index.tolist(), key=lambda i: folder[i])
    loss = id_change_loss(cats, order, format_name=NAME)
    if loss:
        losses.append(loss)
    return folder, losses


def _layout(ds: Dataset) -> tuple[pd.DataFrame, pd.Series, list[str], list[Loss]]:
    """Output path of every image, class folder names, split folders, and the format's own losses.

    Returns ``(frame indexed by image_id with columns out/split/category_id, folder name per
    category_id, split folder names, losses)``.
    """
    chosen, losses = _one_class_per_image(ds)
    folder, class_losses = _class_folders(ds.categories)
    losses += class_losses
    layout = image_layout(ds)
    split_names = pd.Series(sorted(set(layout["split"]) - {""}), dtype=object)
    split_map = dict(zip(split_names, sanitize_names(split_names), strict=True))
    split = layout["split"].map(lambda s: split_map.get(s, s))
    category_id = chosen.reindex(ds.images.index)
    labelled = category_id.notna()
    class_dir = folder.reindex(category_id.to_numpy()).set_axis(ds.images.index)
    name = layout["name"].astype(object)
    # A labelled image keeps its sub-path below its class folder, minus the source's own layout
    # folders (split, class, images); an unlabeled one becomes a plain file at the top of its
    # split folder, since a sub-folder there would read back as a class. Clashes: `dedupe_paths`.
    layout_dirs = {*_LAYOUT_DIRS, *(str(s).lower() for s in ds.images["split"].dropna().unique())}
    layout_dirs |= {str(n).lower() for n in [*folder.tolist(), *ds.categories["name"].tolist()]}
    name = name.where(~labelled, pd.Series(_below_class(name.tolist(), layout_dirs), index=name.index, dtype=object))
    name = name.where(labelled, name.str.rpartition("/")[2])
    parts = pd.DataFrame({"split": split, "class": class_dir.where(labelled, ""), "name": name})
    out = parts["split"].str.cat([parts["class"], parts["name"]], sep="/").str.replace(r"/{2,}", "/", regex=True)
    out = out.str.lstrip("/")
    out, renamed = dedupe_paths(out)
    if renamed:
        losses.append(
            Loss(
                "file-renamed",
                f"{len(renamed)} image(s) would land on the same path as another: written as <name>_<image_id><suffix>",
                len(renamed),
                renamed[:MAX_EXAMPLES],
                unit="image",
            )
        )
    frame = pd.DataFrame(
        {"out": out, "split": split, "category_id": category_id.astype("Int64")}, index=ds.images.index
    )
    split_dirs = sorted(set(split.tolist()) - {""})
    return frame, folder, split_dirs, losses


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as class folders would drop or change (generic + format-specific)."""
    return plan_losses(ds, CAPABILITIES, format_name=NAME) + _layout(ds)[3]


def write(ds: Dataset, out_dir: Path, *, images: str = "copy") -> WriteReport:
    """Write `ds` as ``<split>/<class>/<name>`` (or ``<class>/<name>``) under `out_dir`.

    Every class folder is created in every split folder (empty ones included). Losses are
    computed by `plan`; the registry adds them to the report.

    Raises:
        OutputError: a file name would escape `out_dir`.
    """
    out_dir = Path(out_dir)
    frame, folder, split_dirs, _ = _layout(ds)
    for split in split_dirs or [""]:
        for name in folder.tolist():
            safe_join(out_dir, f"{split}/{name}" if split else name).mkdir(parents=True, exist_ok=True)
    dests = member_paths(out_dir, frame["out"].tolist()) if images != "none" else []
    placed, missing = place_images(ds, dests, images)
    return WriteReport(
        format=NAME,
        path=str(out_dir),
        images=len(frame),
        annotations=int(frame["category_id"].notna().sum()),
        categories=len(folder),
        images_transferred=placed,
        images_missing=missing,
        options={"layout": "split folders" if split_dirs else "class folders"},
    )


FORMAT = FormatSpec(
    NAME,
    "one folder per class (ImageNet / ImageFolder), optionally under train/val/test folders",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=tuple(sorted(IMAGE_SUFFIXES)),
    plan=plan,
)

__all__ = ["FORMAT", "detect", "label_table", "plan", "read", "sanitize_names", "write"]
