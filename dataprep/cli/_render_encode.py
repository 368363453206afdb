"""Rendering for ``dataprep encode`` and ``dataprep anchors``: tables of targets, drops and anchors."""

from __future__ import annotations

from typing import Any

from dataprep.cli import _render


def _anchor_rows(fit: dict[str, Any]) -> list[list[Any]]:
    return [[i, s, w, h] for i, ((w, h), s) in enumerate(zip(fit["anchors"], fit["scale"], strict=True))]


def print_anchors(data: dict[str, Any]) -> None:
    """Computed anchors by scale, then mean IoU / BPR / anchors above threshold of both sets."""
    out = _render.console()
    title = (
        f"{len(data['anchors'])} anchors (px at {data['img_size']}) from {data['num_boxes']:,} boxes "
        f"of split {data['split']}, seed {data['seed']}, {data['restarts']} restarts"
    )
    out.print(_render.table(title, ["anchor", "scale", "w", "h"], _anchor_rows(data)))
    given = data["given"]
    rows = [
        [name, len(fit["anchors"]), fit["mean_iou"], fit["bpr"], fit["anchors_above_threshold"]]
        for name, fit in (("k-means", data), (given["source"], given))
    ]
    ratio = data["ratio_threshold"]
    columns = ["anchors", "k", "mean best IoU", f"BPR (ratio < {ratio:g})", f"anchors/box (ratio < {ratio:g})"]
    out.print(_render.table("Fit on the boxes", columns, rows))


def print_encode(data: dict[str, Any]) -> None:
    """Summary line, rows per split, dropped boxes by reason and the first ones listed."""
    out = _render.console()
    layout = data["layout"]
    kind = f"grid {layout['grid_sizes'][0]}" if layout["kind"] == "grid" else f"{len(layout['anchors'])} anchors"
    out.print(
        f"[green]wrote[/] {data['out']}: {kind} at {layout['img_size']} px, strides {layout['strides']}, "
        f"assign {layout['assign']}, keep {layout['keep']}: {data['encoded_boxes']:,} of {data['boxes']:,} boxes "
        f"in {data['rows']:,} rows, {data['collisions']:,} rows in shared slots"
    )
    rows = [[name, s["images"], s["boxes"], s["rows"]] for name, s in data["splits"].items()]
    out.print(_render.table("Targets per split", ["split", "images", "boxes", "rows"], rows))
    if data["dropped"]:
        out.print(_render.table("Dropped boxes", ["reason", "boxes"], [[k, v] for k, v in data["dropped"].items()]))
        rows = [[d["image_id"], d["annotation_id"], d["reason"], _by(d)] for d in data["dropped_boxes"][:20]]
        out.print(_render.table("First dropped", ["image_id", "annotation_id", "reason", "slot taken by"], rows))
    for name, count in data["skipped"].items():
        out.print(f"[dim]not encoded: {count:,} annotations ({name})[/]")
    if data["clipped"]:
        out.print(f"[yellow]clipped to the image[/]: {data['clipped']:,} boxes (report.json lists them)")
    if data["anchor_fit"]:
        fit = data["anchor_fit"]
        out.print(f"anchors fit: mean best IoU {fit['mean_iou']:.3f}, BPR {fit['bpr']:.3f}")
    if data.get("png"):
        out.print(f"drew {data['png']}")
    for note in data["notes"]:
        out.print(f"[dim]note: {note}[/]")


def _by(d: dict[str, Any]) -> str:
    return str(d["by_annotation_id"]) if d["by_annotation_id"] >= 0 else ""
