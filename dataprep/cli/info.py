"""``dataprep info PATH``: counts, splits, classes, box sizes and aspects of a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dataprep.cli import _render

if TYPE_CHECKING:
    from dataprep.summary import Summary

HELP = f"""Summarize a dataset: images, boxes, classes, per-split and per-class counts, box-size and
aspect histograms, images without labels. Reads labels only (image headers only where the
format states no size).

{_render.EXIT_CODES_HELP}"""


def command(
    path: Annotated[Path, typer.Argument(help="Dataset folder or label file (COCO json).")],
    from_format: Annotated[str, typer.Option("--from", help="Input format; 'auto' detects it.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Summarize a dataset."""
    from dataprep.formats import load
    from dataprep.summary import summarize

    with _render.guard():
        result = load(path, from_format)
        summary = summarize(result.dataset)
    if as_json:
        _render.print_json(
            {"path": str(path), "format": result.format, "read_notes": result.notes, **summary.to_dict()}
        )
        return
    print_summary(path, result.format, summary, notes=result.notes)


def print_summary(path: Path, format_name: str, summary: Summary, *, notes: Sequence[str] = ()) -> None:
    """Render a `Summary` as rich tables (shared with ``dataprep demo``)."""
    out = _render.console()
    t = summary.totals
    out.print(
        f"[bold]{path}[/] ({format_name}): {t['images']:,} images, {t['boxes']:,} boxes"
        + (f", {t['image_labels']:,} image labels" if t["image_labels"] else "")
        + f", {t['categories']:,} classes, {t['images_without_labels']:,} images without labels"
    )
    extras = {
        k: v for k, v in t.items() if k in ("crowd", "segmentations", "predictions", "images_with_unknown_size") and v
    }
    if extras:
        out.print("  " + ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in extras.items()))
    out.print(_frame_table("Splits", summary.splits))
    out.print(_frame_table("Classes", summary.classes))
    if t["boxes"]:
        out.print(_bar_table("Box sizes (area)", summary.box_sizes["boxes"]))
        out.print(_bar_table("Box aspect (width:height)", summary.aspects["boxes"]))
    if len(summary.image_sizes):
        out.print(_frame_table("Most common image sizes", summary.image_sizes))
    for note in [*notes, *summary.notes]:
        out.print(f"[dim]note: {note}[/]")


def _frame_table(title: str, frame):
    df = frame.reset_index()
    return _render.table(title, [str(c) for c in df.columns], df.astype(object).values.tolist())


def _bar_table(title: str, counts):
    top = max(int(counts.max()), 1)
    rows = [[str(k), int(v), "█" * round(30 * int(v) / top)] for k, v in counts.items()]
    return _render.table(title, [counts.index.name or "", "boxes", ""], rows)
