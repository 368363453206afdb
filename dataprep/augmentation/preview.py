"""``--preview``: a PNG grid of originals and their augmented copies, boxes and class names drawn."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dataprep.augmentation.sample import Sample

CELL = 256  # each picture is fitted into a CELL x CELL square
PAD = 6
HEADER = 16
# distinct, readable colours (Tableau 10), one per category in turn
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


def plot_preview(rows: list[tuple[Sample, list[Sample]]], names: dict[int, str], path: str | Path) -> Path:
    """Write the grid (one row per source image: the original, then its copies) to `path` as PNG.

    Args:
        rows: ``(original, copies)`` samples.
        names: ``category_id -> name`` for the labels drawn on each box.

    Returns:
        The path written (atomically: a temporary file renamed into place).
    """
    from PIL import Image, ImageDraw

    columns = max((1 + len(copies) for _, copies in rows), default=1)
    width = PAD + columns * (CELL + PAD)
    height = PAD + max(len(rows), 1) * (CELL + HEADER + PAD)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if not rows:
        draw.text((PAD, PAD), "no image was augmented", fill=(0, 0, 0))
    order = sorted(names)
    colours = {cid: PALETTE[i % len(PALETTE)] for i, cid in enumerate(order)}
    for r, (original, copies) in enumerate(rows):
        y = PAD + r * (CELL + HEADER + PAD)
        for c, sample in enumerate([original, *copies]):
            x = PAD + c * (CELL + PAD)
            draw.text((x, y), "original" if c == 0 else f"copy {c}", fill=(0, 0, 0))
            _cell(sheet, sample, (x, y + HEADER), names, colours)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # not mkstemp: keep the umask's permissions
    try:
        sheet.save(tmp, format="PNG")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _cell(
    sheet: object,
    sample: Sample,
    origin: tuple[int, int],
    names: dict[int, str],
    colours: dict[int, tuple[int, int, int]],
) -> None:
    from PIL import Image, ImageDraw

    image = sample.image
    im = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).convert("RGB")
    scale = min(CELL / im.width, CELL / im.height)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(im)
    labels = [names.get(int(c), str(int(c))) for b, c in zip(sample.boxes_xyxy, sample.category_ids, strict=True)
              if np.isnan(b).all()]  # fmt: skip
    if labels:  # classification: the image's labels in the corner
        draw.rectangle((0, 0, 6 * len(", ".join(labels)) + 4, 12), fill=(0, 0, 0))
        draw.text((2, 1), ", ".join(labels), fill=(255, 255, 255))
    for xyxy, cid in zip(sample.boxes_xyxy, sample.category_ids, strict=True):
        if np.isnan(xyxy).any():
            continue
        colour = colours.get(int(cid), (255, 0, 0))
        x0, y0, x1, y1 = (float(v) * scale for v in xyxy)
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=2)
        label = names.get(int(cid), str(int(cid)))
        draw.text((x0 + 2, max(0.0, y0 - 11)), label, fill=colour)
    sheet.paste(im, origin)  # type: ignore[attr-defined]
