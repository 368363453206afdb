"""Rows -> VOC files: `plan` (what VOC cannot hold) and `write`, both built on one `_prepare`.

`_prepare` decides everything the two must agree on: each image's VOC id and file name, the
class name of every category (a generated one for dangling ids), which annotations are written
and which attribute keys each loses. `plan` reports it; `write` renders it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep import boxes
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import UsageError
from dataprep.files import IMAGE_SUFFIXES, member_paths, safe_join
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    Loss,
    WriteReport,
    image_layout,
    only_keypoints,
    place_images,
    plan_losses,
    split_file_name,
)
from dataprep.formats.voc.attributes import XML_INVALID_RE, check_attributes, escape, extras_xml, plain
from dataprep.formats.voc.layout import ANNOTATIONS_DIR, IMAGES_DIR, LABELMAP, NO_SPLIT, SPLITS_DIR

CAPABILITIES = Capabilities(
    boxes=True,
    attributes=True,  # difficult/truncated/occluded/pose, parts, actions, CVAT attributes
    float_coordinates=False,
    splits=True,
)

_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n'
_DEFAULT_EXTRAS = "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n    <difficult>0</difficult>\n"


# -- names -------------------------------------------------------------------------------


def _strip_image_suffix(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and "/" not in suffix and f".{suffix.lower()}" in IMAGE_SUFFIXES:
        return stem
    return name


def _voc_names(ds: Dataset) -> tuple[list[str], list[str], list[int]]:
    """Per image (in `ds.images` order): VOC id, image name under JPEGImages, and renamed image ids.

    Names come from `image_layout`; a dataset read from VOC keeps its ``JPEGImages/`` paths.
    Ids that collide (``a.jpg`` and ``a.png``, or names equal but for case, which collide on
    macOS/Windows) or cannot sit on a split-list line become ``<id>_<image_id>``.
    """
    file_names = ds.images["file_name"].astype(object).tolist()
    prefix = IMAGES_DIR + "/"
    if file_names and all(isinstance(f, str) and f.startswith(prefix) for f in file_names):
        names = [f[len(prefix) :] for f in file_names]
    else:
        names = image_layout(ds)["name"].astype(object).tolist()
    ids = [_strip_image_suffix(n) for n in names]
    taken: set[str] = set()
    renamed: list[int] = []
    image_ids = ds.images.index.tolist()
    out_ids: list[str] = []
    out_names: list[str] = []
    for voc_id, name, image_id in zip(ids, names, image_ids, strict=True):
        suffix = name[len(voc_id) :]
        clean = voc_id
        if "\n" in clean or "\r" in clean or clean != clean.strip():
            clean = re.sub(r"[\r\n]+", "_", clean).strip() or "image"
        new = clean
        while new.casefold() in taken:
            new = f"{new}_{image_id}"
        if new != voc_id:
            renamed.append(int(image_id))
        taken.add(new.casefold())
        out_ids.append(new)
        out_names.append(new + suffix)
    return out_ids, out_names, renamed


# -- _prepare: what plan reports and write renders ---------------------------------------


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What `write` renders, decided once for `plan` and `write` alike."""

    voc_ids: list[str]  # per image, in ds.images order
    image_names: list[str]  # per image: its path under JPEGImages/
    class_names: dict[int, str]  # category_id -> name, "category_<id>" for dangling ids
    class_attributes: dict[int, Any]  # category_id -> attributes (color, parts, actions) or None
    written: npt.NDArray[np.bool_]  # per annotation: finite box on a known image
    attributes_dropped: list[tuple[str, ...]]  # per annotation: attribute keys VOC cannot hold


def _examples(ids: Iterable[Any]) -> list[int]:
    return [int(i) for i in list(ids)[:MAX_EXAMPLES]]


def _prepare(ds: Dataset, **options: Any) -> tuple[Prepared, list[Loss]]:
    """Names, classes and written annotations of `ds` as VOC, and VOC's own losses (not `plan_losses`').

    Raises:
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"voc writer: unknown option(s) {', '.join(sorted(options))}")
    anns, cats = ds.annotations, ds.categories
    voc_ids, image_names, renamed = _voc_names(ds)
    class_names = dict(zip(cats.index.tolist(), cats["name"].tolist(), strict=True))
    class_attributes = dict(zip(cats.index.tolist(), cats["attributes"].tolist(), strict=True))
    for cid in sorted(set(anns["category_id"].tolist()) - set(class_names)):
        class_names[cid] = f"category_{cid}"
        class_attributes[cid] = None
    finite = np.isfinite(anns[BOX_COLUMNS].to_numpy(dtype=np.float64)).all(axis=1)
    on_image = anns["image_id"].isin(ds.images.index).to_numpy()
    attributes_dropped, attribute_losses = _attribute_losses(
        anns["attributes"].to_numpy(dtype=object), anns.index.to_numpy()
    )
    prepared = Prepared(voc_ids, image_names, class_names, class_attributes, finite & on_image, attributes_dropped)
    has_box = anns["x_min"].notna().to_numpy()
    losses = [
        *_image_extras_losses(ds),
        *_category_losses(ds),
        *_box_losses(anns.index, has_box & ~finite, ~on_image),
        *attribute_losses,
        *_split_and_rename_losses(ds, renamed),
    ]
    return prepared, losses


def _image_extras_losses(ds: Dataset) -> list[Loss]:
    """Per-image extras: only depth fits in VOC."""
    values = ds.images["attributes"].to_numpy(dtype=object)
    image_ids = ds.images.index.to_numpy()
    lost_images = [
        image_ids[k]
        for k in np.flatnonzero(pd.notna(values)).tolist()  # most images have none: look at the others only
        if isinstance(attrs := values[k], dict)
        and (set(attrs) - {"depth"} or not isinstance(plain(attrs.get("depth", 3)), int))
    ]
    if not lost_images:
        return []
    return [
        Loss(
            "image-attributes-dropped",
            "voc holds no per-image extras other than <depth> (license, urls...)",
            len(lost_images),
            _examples(lost_images),
            unit="image",
        )
    ]


def _category_losses(ds: Dataset) -> list[Loss]:
    """Category ids renumbered 1..C, names the text files change, dangling ids named."""
    cats, anns = ds.categories, ds.annotations
    losses = []
    cat_ids = cats.index.to_numpy()
    if len(cat_ids) and not np.array_equal(cat_ids, np.arange(1, len(cat_ids) + 1)):
        changed = cat_ids[cat_ids != np.arange(1, len(cat_ids) + 1)]
        losses.append(
            Loss(
                "category-ids-renumbered",
                "voc stores class names, not ids: categories come back numbered 1..C in category_id order",
                len(changed),
                _examples(changed),
                unit="category",
            )
        )
    bad_names = [
        cid
        for cid, name in zip(cats.index, cats["name"], strict=True)
        if name != name.strip() or "\n" in name or "\r" in name or name.startswith("#") or XML_INVALID_RE.search(name)
    ]
    if bad_names:
        losses.append(
            Loss(
                "category-name-changed",
                "class names with surrounding spaces, line breaks, a leading '#' or control characters "
                "do not survive labelmap.txt/xml",
                len(bad_names),
                _examples(bad_names),
                unit="category",
            )
        )
    dangling = anns.index[~anns["category_id"].isin(cats.index).to_numpy()]
    if len(dangling):
        losses.append(
            Loss(
                "dangling-category-named",
                "annotations whose category_id is not in categories: written as class 'category_<id>'",
                len(dangling),
                _examples(dangling),
            )
        )
    return losses


def _box_losses(ann_ids: Any, nonfinite: npt.NDArray[np.bool_], orphan: npt.NDArray[np.bool_]) -> list[Loss]:
    """Boxes with a non-finite coordinate, annotations of unknown images: neither is written."""
    losses = []
    if nonfinite.any():
        ids = ann_ids[nonfinite]
        losses.append(Loss("non-finite-box-dropped", "voc needs four finite box coordinates", len(ids), _examples(ids)))
    if orphan.any():
        ids = ann_ids[orphan]
        losses.append(
            Loss(
                "annotation-without-image",
                "annotations of image ids not in images: not written",
                len(ids),
                _examples(ids),
            )
        )
    return losses


def _attribute_losses(values: npt.NDArray[np.object_], ann_ids: Any) -> tuple[list[tuple[str, ...]], list[Loss]]:
    """Per annotation the attribute keys VOC drops, and the dropped/retyped losses."""
    per_annotation: list[tuple[str, ...]] = [()] * len(values)  # no new object per annotation: no GC passes
    dropped: list[int] = []
    retyped: list[int] = []
    dropped_keys: Counter[str] = Counter()
    for k in np.flatnonzero(pd.notna(values)).tolist():  # most annotations have none: look at the others only
        attrs = values[k]
        if not isinstance(attrs, dict) or not attrs or only_keypoints(attrs):  # keypoints-dropped says it
            continue
        lost, typed = check_attributes(attrs)
        if lost:
            per_annotation[k] = tuple(lost)
            dropped.append(int(ann_ids[k]))
            dropped_keys.update(lost)
        if typed:
            retyped.append(int(ann_ids[k]))
    losses = []
    if dropped:
        keys = ", ".join(k for k, _ in dropped_keys.most_common(MAX_EXAMPLES))
        losses.append(
            Loss(
                "attributes-dropped",
                f"voc holds flags, pose, parts, actions and scalar attributes only: dropped {keys}",
                len(dropped),
                _examples(dropped),
            )
        )
    if retyped:
        losses.append(
            Loss(
                "attributes-retyped",
                "text attribute values that look like numbers/booleans (or default flags) come back typed",
                len(retyped),
                _examples(retyped),
            )
        )
    return per_annotation, losses


def _split_and_rename_losses(ds: Dataset, renamed: list[int]) -> list[Loss]:
    """Images in the "default" split (read back as none) and images renamed to keep ids unique."""
    losses = []
    in_default = ds.images.index[(ds.images["split"] == NO_SPLIT).fillna(False).to_numpy(dtype=bool)]
    if len(in_default):
        losses.append(
            Loss(
                "split-dropped",
                f"split {NO_SPLIT!r} is VOC/Datumaro's name for no split: read back without a split",
                len(in_default),
                _examples(in_default),
                unit="image",
            )
        )
    if renamed:
        losses.append(
            Loss(
                "image-renamed",
                "images whose VOC id collides with another's (a.jpg/a.png, case) or has line breaks: "
                "written as <id>_<image_id>",
                len(renamed),
                _examples(renamed),
                unit="image",
            )
        )
    return losses


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as VOC would drop or change: `plan_losses` plus VOC's own losses.

    VOC-specific: category ids not 1..C (VOC stores names; ids come back renumbered in
    ``labelmap.txt`` order), attribute values VOC cannot hold or that come back typed, images
    renamed to keep ids unique, annotations on missing images or with non-finite boxes,
    category names changed by the labelmap/xml text rules, and per-image extras other than depth.

    Raises:
        UsageError: an unknown option.
    """
    _, own = _prepare(ds, **options)
    generic = plan_losses(ds, CAPABILITIES, format_name="voc")
    return [loss for loss in generic if loss.code != "image-attributes-dropped"] + own


# -- write -------------------------------------------------------------------------------


def write(ds: Dataset, out_dir: Path, *, images: str = "copy", **options: Any) -> WriteReport:
    """Write `ds` as Pascal VOC into the fresh folder `out_dir`.

    Writes ``Annotations/<id>.xml`` for every image (objects in annotation_id order, integer
    1-based coordinates from `boxes.xyxy_to_voc`), ``ImageSets/Main/<split>.txt`` per split
    (plus ``trainval.txt`` when train and val exist; images without a split in ``default.txt``),
    ``labelmap.txt`` in category_id order and the images in ``JPEGImages/``. Output is
    byte-deterministic (UTF-8, 2-space indentation, ``\\n`` line ends).

    Raises:
        OutputError: an image name would escape the output folder (``../``).
        UsageError: an unknown option or images mode.
    """
    prepared, _ = _prepare(ds, **options)
    out_dir = Path(out_dir)
    xml_paths = member_paths(out_dir / ANNOTATIONS_DIR, [f"{voc_id}.xml" for voc_id in prepared.voc_ids])
    image_dst = member_paths(out_dir / IMAGES_DIR, prepared.image_names)
    objects = _object_fragments(ds, prepared)
    _write_xml_files(ds, prepared, objects, xml_paths, out_dir)
    _write_split_lists(ds, prepared.voc_ids, out_dir / SPLITS_DIR)
    _write_labelmap(prepared, out_dir / LABELMAP)
    placed, missing = place_images(ds, image_dst, images)
    return WriteReport(
        format="voc",
        path=str(out_dir),
        images=len(prepared.voc_ids),
        annotations=int(prepared.written.sum()),
        categories=len(prepared.class_names),
        images_transferred=placed,
        images_missing=missing,
        options={"images": images},
    )


def _object_fragments(ds: Dataset, prepared: Prepared) -> list[str]:
    """Per image (ds.images order): its ``<object>`` elements, in annotation order."""
    anns = ds.annotations
    keep = prepared.written
    escaped = {cid: escape(str(name).strip()) for cid, name in prepared.class_names.items()}
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)[keep]
    voc = np.round(boxes.xyxy_to_voc(xyxy)).astype(np.int64).tolist() if keep.any() else []
    kept_cats = anns["category_id"].to_numpy()[keep].tolist()
    kept_attrs = anns["attributes"].to_numpy()[keep].tolist()
    kept_dropped = [prepared.attributes_dropped[k] for k in np.flatnonzero(keep).tolist()]
    fragments = []
    for cid, (x0, y0, x1, y1), attrs, dropped in zip(kept_cats, voc, kept_attrs, kept_dropped, strict=True):
        head, tail = _DEFAULT_EXTRAS, ""
        if isinstance(attrs, dict) and attrs:
            head, tail = extras_xml(attrs, dropped)
        fragments.append(
            f"  <object>\n    <name>{escaped[cid]}</name>\n{head}    <bndbox>\n"
            f"      <xmin>{x0}</xmin>\n      <ymin>{y0}</ymin>\n      <xmax>{x1}</xmax>\n      <ymax>{y1}</ymax>\n"
            f"    </bndbox>\n{tail}  </object>\n"
        )
    kept_image_ids = anns["image_id"].to_numpy()[keep]
    image_ids = ds.images.index.to_numpy()
    starts = np.searchsorted(kept_image_ids, image_ids, side="left").tolist()
    stops = np.searchsorted(kept_image_ids, image_ids, side="right").tolist()
    return ["".join(fragments[a:b]) for a, b in zip(starts, stops, strict=True)]


def _depth(attrs: Any) -> str:
    """``<depth>`` text of an image: an int ``attributes["depth"]``, else 3."""
    depth = plain(attrs.get("depth", 3)) if isinstance(attrs, dict) else 3
    return str(depth) if isinstance(depth, int) else "3"


def _size_xml(width: float, height: float, depth: str) -> str:
    """``<size>`` (NaN = unknown side left out; no element when both are unknown)."""
    if width != width and height != height:
        return ""
    return (
        "  <size>\n"
        + (f"    <width>{int(width)}</width>\n" if width == width else "")
        + (f"    <height>{int(height)}</height>\n" if height == height else "")
        + f"    <depth>{depth}</depth>\n  </size>\n"
    )


def _write_xml_files(ds: Dataset, prepared: Prepared, objects: list[str], xml_paths: list[str], out_dir: Path) -> None:
    """One ``Annotations/<id>.xml`` per image."""
    # NaN for <NA>: `w != w` tests it without a pandas call per image
    widths = ds.images["width"].to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    heights = ds.images["height"].to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    img_attrs = ds.images["attributes"].tolist()
    os.makedirs(out_dir / ANNOTATIONS_DIR, exist_ok=True)  # even for no images: the layout stays detectable
    made: set[str] = set()
    sizes: dict[tuple[float, float, str], str] = {}  # most images share a few sizes
    for k, xml_path in enumerate(xml_paths):
        folder, _, filename = f"{IMAGES_DIR}/{prepared.image_names[k]}".rpartition("/")
        attrs = img_attrs[k]
        key = (widths[k], heights[k], "3" if attrs is None else _depth(attrs))
        size = sizes.get(key)
        if size is None:
            size = sizes[key] = _size_xml(*key)
        text = (
            f"{_HEADER}  <folder>{escape(folder)}</folder>\n  <filename>{escape(filename)}</filename>\n"
            f"{size}  <segmented>0</segmented>\n{objects[k]}</annotation>\n"
        )
        parent = xml_path.rpartition("/")[0] if os.sep == "/" else os.path.dirname(xml_path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(xml_path, "wb") as f:
            f.write(text.encode("utf-8"))


def _write_split_lists(ds: Dataset, voc_ids: list[str], split_dir: Path) -> None:
    """``<split>.txt`` id lists, ``default.txt`` for no split, ``trainval.txt`` when train and val exist."""
    split_dir.mkdir(parents=True, exist_ok=True)
    split_col = ds.images["split"].astype(object).where(ds.images["split"].notna(), None).tolist()
    members: dict[str, list[str]] = {}
    for voc_id, split in zip(voc_ids, split_col, strict=True):
        members.setdefault(NO_SPLIT if split is None else split_file_name(str(split)), []).append(voc_id)
    if "train" in members and "val" in members and "trainval" not in members:
        # VOC's own convention (mmdetection and others train on trainval.txt); read back as train/val
        listed = set(members["train"]) | set(members["val"])
        members["trainval"] = [v for v in voc_ids if v in listed]
    for split, split_ids in sorted(members.items()):
        split_path = safe_join(split_dir, f"{split}.txt")
        with open(split_path, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(f"{v}\n" for v in sorted(split_ids)))  # sorted: independent of image ids


def _write_labelmap(prepared: Prepared, path: Path) -> None:
    """``labelmap.txt`` in category_id order (class order survives the trip)."""
    lines = ["# label:color_rgb:parts:actions\n"]
    for cid in sorted(prepared.class_names):
        attrs = prepared.class_attributes.get(cid)
        attrs = attrs if isinstance(attrs, dict) else {}
        color = attrs.get("color")
        color_text = ",".join(str(int(c)) for c in color) if isinstance(color, list | tuple) and len(color) == 3 else ""
        parts, actions = (attrs.get(k) for k in ("parts", "actions"))
        parts = ",".join(map(str, parts)) if isinstance(parts, list) else ""
        actions = ",".join(map(str, actions)) if isinstance(actions, list) else ""
        name = re.sub(r"[\r\n]+", " ", str(prepared.class_names[cid])).strip()
        lines.append(f"{name}:{color_text}:{parts}:{actions}\n")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(lines))
