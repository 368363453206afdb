"""Rows -> LabelMe json files: `plan` (what LabelMe cannot hold) and `write`, both on one `_prepare`.

Each image keeps its path (``file_name``) under the output folder, with ``<stem>.json`` beside it
(``<stem>_<image_id>.json`` when two images share a stem); ``imagePath`` is the image's base name,
``imageData`` null, or the base64 image file with ``embed_images=True``. Shapes: a box ->
``rectangle``; a polygon -> ``polygon`` (several parts -> several polygons sharing a ``group_id``,
which LabelMe's converters merge back); an RLE mask -> ``mask`` (PNG of its box); kept
``shape_type``/``points`` (lines, points) -> that shape; image-level labels -> the file's ``flags``.
Bool attributes become the shape's ``flags``, a ``description`` string its description.
"""

from __future__ import annotations

import base64
import io
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import UsageError
from dataprep.files import member_paths
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    Loss,
    WriteReport,
    image_bytes,
    place_images,
    plan_losses,
)

CAPABILITIES = Capabilities(boxes=True, polygons=True, rle=True, attributes=True, image_level_labels=True, splits=False)
LABELME_VERSION = "5.5.0"
_KEPT_KEYS = frozenset({"description", "shape_type", "points", "group_id"})


@dataclass
class Prepared:
    """What `plan` reports and `write` renders: image and json paths, class names, options."""

    image_names: list[str]
    json_names: list[str]
    class_names: pd.Series  # category_id -> name
    embed_images: bool


def _prepare(ds: Dataset, *, embed_images: bool = False, **options: Any) -> tuple[Prepared, list[Loss]]:
    if options:
        raise UsageError(f"labelme writer: unknown option(s) {', '.join(sorted(options))}; known: embed_images")
    names = [str(n) for n in ds.images["file_name"].astype(object)]
    member_paths("", names)  # refuses unsafe names before anything is written
    json_names, taken = [], set()
    for name, image_id in zip(names, ds.images.index.tolist(), strict=True):
        stem = posixpath.splitext(name)[0]
        json_name = stem + ".json" if stem + ".json" not in taken else f"{stem}_{image_id}.json"
        taken.add(json_name)
        json_names.append(json_name)
    losses = plan_losses(ds, CAPABILITIES, format_name="labelme")
    losses += _attribute_losses(ds)
    split = ds.images.index[ds.images["split"].notna().to_numpy()]
    if len(split):
        losses.append(Loss("split-dropped", "labelme has no splits", len(split), _ids(split), unit="image"))
    cats = ds.categories["name"].astype(object)
    dangling = ~ds.annotations["category_id"].isin(cats.index).to_numpy()
    if dangling.any():
        ids = ds.annotations.index[dangling]
        losses.append(Loss("dangling-category-dropped", "objects of unknown categories dropped", len(ids), _ids(ids)))
    return Prepared(names, json_names, cats, embed_images), losses


def _ids(index: Any) -> list[int]:
    return [int(i) for i in list(index)[:MAX_EXAMPLES]]


def _attribute_losses(ds: Dataset) -> list[Loss]:
    """Attributes LabelMe cannot hold: anything but bool flags, a description and kept shapes."""
    attrs = ds.annotations["attributes"]
    bad_ids, keys = [], set()
    for ann_id, value in attrs[attrs.notna()].items():
        lost = [k for k, v in value.items() if k not in _KEPT_KEYS and not isinstance(v, bool)]
        if lost:
            bad_ids.append(ann_id)
            keys.update(lost)
    if not bad_ids:
        return []
    return [
        Loss(
            "attributes-dropped",
            f"labelme holds bool flags and a description per shape: dropped {', '.join(sorted(keys)[:8])}",
            len(bad_ids),
            _ids(bad_ids),
        )
    ]


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as LabelMe would drop (splits, scores, crowd flags, non-bool attributes...)."""
    return _prepare(ds, **options)[1]


def write(
    ds: Dataset, out_dir: Path, *, images: str = "copy", embed_images: bool = False, **options: Any
) -> WriteReport:
    """Write `ds` as LabelMe json files (and the images, per `images`) into `out_dir`.

    Args:
        embed_images: put each image file in its json as base64 ``imageData`` (LabelMe's "save with
            image data"); images whose file is missing get null, reported as a loss.
    """
    import orjson

    prepared, _ = _prepare(ds, embed_images=embed_images, **options)
    out = Path(out_dir)
    json_paths = member_paths(out, prepared.json_names)
    anns = ds.annotations
    anns = anns[anns["category_id"].isin(prepared.class_names.index).to_numpy()]
    not_embedded: list[int] = []
    made: set[str] = set()
    for k, doc in enumerate(_documents(ds, anns, prepared, not_embedded)):
        parent = json_paths[k].rpartition("/")[0]
        if parent not in made:
            Path(parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        Path(json_paths[k]).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    placed, missing = place_images(ds, member_paths(out, prepared.image_names), images)
    report = WriteReport("labelme", str(out_dir), len(ds.images), len(anns), len(ds.categories), placed, missing)
    report.options = {"embed_images": embed_images}
    if not_embedded:
        message = "image file not found: imageData left null"
        report.losses.append(
            Loss("image-not-embedded", message, len(not_embedded), not_embedded[:MAX_EXAMPLES], unit="image")
        )
    return report


def _documents(ds: Dataset, anns: pd.DataFrame, prepared: Prepared, not_embedded: list[int]) -> Iterator[dict]:
    """Each image's LabelMe document, in `ds.images` order; images that could not be embedded are appended."""
    image_ids = anns["image_id"].to_numpy()
    starts = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="left")
    stops = np.searchsorted(image_ids, ds.images.index.to_numpy(), side="right")
    labels = prepared.class_names.reindex(anns["category_id"]).tolist()
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    segs, attrs = anns["segmentation"].tolist(), anns["attributes"].tolist()
    widths, heights = ds.images["width"].tolist(), ds.images["height"].tolist()
    for k, image_id in enumerate(ds.images.index.tolist()):
        shapes, flags, group = [], {}, 0
        for r in range(starts[k], stops[k]):
            if np.isnan(xyxy[r, 0]):
                flags[labels[r]] = True
                continue
            new, group = _shapes(labels[r], xyxy[r], segs[r], attrs[r], group)
            shapes += new
        data = _embedded(ds, prepared.image_names[k]) if prepared.embed_images else None
        if prepared.embed_images and data is None:
            not_embedded.append(int(image_id))
        yield {
            "version": LABELME_VERSION,
            "flags": flags,
            "shapes": shapes,
            "imagePath": posixpath.basename(prepared.image_names[k]),
            "imageData": data,
            "imageHeight": None if pd.isna(heights[k]) else int(heights[k]),
            "imageWidth": None if pd.isna(widths[k]) else int(widths[k]),
        }


def _embedded(ds: Dataset, name: str) -> str | None:
    data = image_bytes(ds, name)  # the file, else the imageData of a LabelMe source
    return None if data is None else base64.b64encode(data).decode("ascii")


def _shape(label: str, points: Any, kind: str, attrs: dict[str, Any], group_id: Any = None) -> dict[str, Any]:
    flags = {k: v for k, v in attrs.items() if isinstance(v, bool)}
    description = attrs.get("description")
    return {
        "label": label,
        "points": [[float(x), float(y)] for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2)],
        "group_id": group_id,
        "description": description if isinstance(description, str) else "",
        "shape_type": kind,
        "flags": flags,
        "mask": None,
    }


def _shapes(label: str, xyxy: np.ndarray, seg: Any, attrs: Any, group: int) -> tuple[list[dict[str, Any]], int]:
    """The LabelMe shapes of one object, and the last multi-part ``group_id`` used in its file."""
    attrs = attrs if isinstance(attrs, dict) else {}
    kind = attrs.get("shape_type")
    if seg is None and kind in ("line", "linestrip", "polyline", "point", "points") and attrs.get("points"):
        pts = np.asarray(attrs["points"], dtype=np.float64).reshape(-1, 2)
        group_id = attrs.get("group_id")
        if kind in ("point", "points"):
            if len(pts) > 1:  # the reader joins the points of a group back into one object
                group, group_id = group + 1, group + 1
            return [_shape(label, p, "point", attrs, group_id) for p in pts], group
        kind = "line" if kind == "line" and len(pts) == 2 else "linestrip"
        return [_shape(label, pts, kind, attrs, group_id)], group
    if isinstance(seg, dict):
        return [_mask_shape(label, seg, attrs)], group
    if isinstance(seg, list) and seg:
        if len(seg) == 1:
            return [_shape(label, seg[0], "polygon", attrs)], group
        group += 1
        return [_shape(label, part, "polygon", attrs, group) for part in seg], group
    return [_shape(label, xyxy.reshape(2, 2), "rectangle", attrs)], group


def _mask_shape(label: str, rle: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """An RLE -> LabelMe ``mask`` shape: the PNG of the mask's pixel box, corners inclusive."""
    from PIL import Image

    from dataprep.geometry import rle_decode

    mask = rle_decode(rle).astype(bool)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        x0 = y0 = x1 = y1 = 0
    else:
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    buf = io.BytesIO()
    Image.fromarray(mask[y0 : y1 + 1, x0 : x1 + 1]).save(buf, format="PNG")
    shape = _shape(label, [[x0, y0], [x1, y1]], "mask", attrs)
    shape["mask"] = base64.b64encode(buf.getvalue()).decode("ascii")
    return shape
