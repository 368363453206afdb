"""Write encoded targets (``.npz`` per split, ``layout.json``, ``report.json``) and draw assignments.

Output folder (written atomically; byte-identical for the same input):

- ``<split>.npz``: the sparse rows of the split's images (`ROW_COLUMNS`, ``image`` = image_id)
  and per image ``image_id``, ``width``, ``height``, letterbox ``scale_x, scale_y, pad_x, pad_y``.
- ``<split>_dense.npz`` (``dense=True``): ``image_id`` and ``scale<s>`` arrays from `to_dense`.
- ``layout.json``: the `Layout`, classes, columns with units, files.
- ``report.json``: `EncodedDataset.to_dict` with every dropped box listed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.dataset import BOX_COLUMNS
from dataprep.encoding.layout import CHANNELS
from dataprep.encoding.tables import EncodedDataset
from dataprep.encoding.targets import ROW_COLUMNS, dense_bytes, to_dense
from dataprep.errors import OutputError, UsageError

MAX_DENSE_BYTES = 256 << 20
COLUMN_DOCS = {
    "image": "image_id (int64)",
    "scale": "index into strides, finest first",
    "anchor": "global anchor index into anchors (0 for a grid)",
    "slot": "predictor block within the scale: anchor - scale * predictors",
    "row": "cell row (y), 0..S-1",
    "col": "cell column (x), 0..S-1",
    "tx": "cx / stride - col (darknet decodes sigmoid(tx); ratio assignment: [-0.5, 1.5])",
    "ty": "cy / stride - row",
    "tw": "anchors: ln(w / anchor_w); grid: w / img_size (wh_units image) or w / stride (cell)",
    "th": "anchors: ln(h / anchor_h); grid: h / img_size or h / stride",
    "class_index": "0..C-1, see classes",
    "weight": "box-loss weight: anchors 2 - w*h / img_size^2, grid 1",
    "annotation_id": "the annotation the row encodes",
}


def _write_npz(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """``np.savez_compressed`` with fixed timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_dense(result: EncodedDataset, max_bytes: int = MAX_DENSE_BYTES) -> int:
    """Bytes the dense arrays of all images would take (float32).

    Raises:
        UsageError: more than `max_bytes`, with the estimate and the fix.
    """
    size = dense_bytes(result.layout, len(result.images))
    if size > max_bytes:
        raise UsageError(
            f"--dense for {len(result.images):,} images at {result.layout.img_size} px needs about "
            f"{size / 2**20:,.0f} MiB (limit {max_bytes / 2**20:,.0f} MiB). Drop --dense (the sparse .npz holds the "
            "same targets; build dense ones per batch with to_dense), encode fewer images, or raise --max-dense-mb"
        )
    return size


def write_targets(
    result: EncodedDataset,
    out_dir: str | Path,
    *,
    dense: bool = False,
    max_dense_bytes: int = MAX_DENSE_BYTES,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the targets folder (see the module docstring) atomically.

    Returns:
        ``{"files": [...], "dense_bytes": int | None}``.

    Raises:
        UsageError: `dense` and the dense arrays would pass `max_dense_bytes`.
        OutputError: `out_dir` exists and not `overwrite`.
    """
    from dataprep.files import atomic_output_dir

    dense_size = check_dense(result, max_dense_bytes) if dense else None
    t = result.targets
    images = result.images
    splits = result.split_names()
    files = []
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        for name in sorted(set(splits)):
            ids = images.index.to_numpy(dtype=np.int64)[splits == name]
            rows = np.isin(t.image, ids)
            arrays: dict[str, npt.NDArray[Any]] = {c: v[rows] for c, v in t.columns().items()}
            part = images.loc[ids]
            arrays["image_id"] = ids
            for column in ("width", "height", "scale_x", "scale_y", "pad_x", "pad_y"):
                arrays[column] = part[column].to_numpy()
            _write_npz(tmp / f"{name}.npz", arrays)
            files.append(f"{name}.npz")
            if dense:
                keys, grids = to_dense(t.select(rows), images=ids)
                _write_npz(
                    tmp / f"{name}_dense.npz", {"image_id": keys, **{f"scale{s}": g for s, g in enumerate(grids)}}
                )
                files.append(f"{name}_dense.npz")
        (tmp / "layout.json").write_text(_dump(_layout_doc(result, files)), encoding="utf-8")
        (tmp / "report.json").write_text(_dump(result.to_dict(listed=None)), encoding="utf-8")
    return {"files": [*files, "layout.json", "report.json"], "dense_bytes": dense_size}


def _layout_doc(result: EncodedDataset, files: list[str]) -> dict[str, Any]:
    layout = result.layout
    cats = result.categories
    return {
        "layout": layout.to_dict(),
        "anchors": layout.to_dict()["anchors"],
        "classes": [
            {"class_index": int(row.class_index), "category_id": int(cid), "name": str(row.name)}
            for cid, row in cats.sort_values("class_index").iterrows()
        ],
        "columns": {c: COLUMN_DOCS[c] for c in ROW_COLUMNS},
        "dense": {
            "shapes": [list(s) for s in layout.dense_shapes()],
            "channels": [*CHANNELS, "one-hot classes"],
            "note": "per image: (A, S, S, 5 + C) per scale for anchors, (S, S, 5 + C) for a grid; bx..bh hold tx..th",
        },
        "coordinates": "network pixels after letterbox to img_size (see dataprep.encoding.letterbox)",
        "files": files,
    }


_SCALE_COLOURS = [(0, 200, 255), (255, 170, 0), (200, 80, 255), (0, 220, 120), (255, 90, 160)]


def plot_assignment(result: EncodedDataset, image_id: int, png: str | Path, *, overwrite: bool = False) -> Path:
    """Draw one image letterboxed with the grid, responsible cells, their anchors and the boxes.

    Each scale with an assigned row gets its grid lines and cells in its own colour; anchors are
    drawn centred on their box; boxes dropped by the encoder are red. Written atomically.

    Raises:
        UsageError: `image_id` is not in the dataset.
        InputError: the image file cannot be read.
        OutputError: `png` exists and not `overwrite`.
    """
    from PIL import Image, ImageDraw

    from dataprep.encoding.letterbox import letterbox_image
    from dataprep.errors import InputError

    png = Path(png)
    if png.exists() and not overwrite:
        raise OutputError(f"{png}: already exists. Choose another file or pass --overwrite.")
    if image_id not in result.images.index:
        some = result.images.index[:5].tolist()
        raise UsageError(f"--show {image_id}: no such image_id in the dataset (ids such as {some})")
    record = result.images.loc[image_id]
    path = (result.root or Path(".")) / record["file_name"]
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
    except OSError as err:
        raise InputError(path, f"cannot read image {image_id} ({err.__class__.__name__})") from None
    layout = result.layout
    canvas = Image.fromarray(letterbox_image(pixels, img_size=layout.img_size))
    draw = ImageDraw.Draw(canvas, "RGBA")
    t = result.targets
    rows = np.flatnonzero(t.image == image_id)
    anchors = layout.anchors_px()
    for s in sorted(set(t.scale[rows].tolist())):
        colour = _SCALE_COLOURS[s % len(_SCALE_COLOURS)]
        stride = layout.strides[s]
        for k in range(0, layout.img_size + 1, stride):
            draw.line([(k, 0), (k, layout.img_size)], fill=(*colour, 70))
            draw.line([(0, k), (layout.img_size, k)], fill=(*colour, 70))
        for r in rows[t.scale[rows] == s]:
            x0, y0 = t.col[r] * stride, t.row[r] * stride
            draw.rectangle([x0, y0, x0 + stride, y0 + stride], fill=(*colour, 90), outline=(*colour, 255), width=2)
            cx, cy = (t.col[r] + t.tx[r]) * stride, (t.row[r] + t.ty[r]) * stride
            if layout.kind == "anchors":
                aw, ah = anchors[t.anchor[r]]
                draw.rectangle([cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2], outline=(*colour, 255), width=1)
        draw.text((4, 4 + 12 * s), f"scale {s}: stride {stride}", fill=(*colour, 255))
    boxes = result.boxes[result.boxes["image_id"] == image_id]
    dropped = set(t.dropped.loc[t.dropped["image"] == image_id, "annotation_id"].tolist())
    for ann_id, xyxy in zip(boxes.index.tolist(), boxes[BOX_COLUMNS].to_numpy(dtype=np.float64), strict=True):
        if np.isfinite(xyxy).all() and (xyxy[2:] >= xyxy[:2]).all():
            colour = (255, 40, 40, 255) if ann_id in dropped else (255, 255, 255, 255)
            draw.rectangle(xyxy.tolist(), outline=colour, width=2)
    png.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{png.name}.", suffix=".png", dir=png.parent)
    os.close(fd)
    try:
        canvas.save(tmp, format="PNG")
        os.replace(tmp, png)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return png
