"""Human-readable rendering of `dataprep augment`'s report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataprep.cli import _render


def print_report(data: dict[str, Any], dst: Path) -> None:
    """Print what was written, what happened to the objects, and any skipped image."""
    out = _render.console()
    written = data["written"] or {}
    splits = ", ".join(data["splits"]) if data["splits"] else "every image"
    out.print(
        f"[green]wrote[/] {dst} ({data['format']}): {data['copies_written']:,} augmented copies of "
        f"{data['images_augmented']:,} images ({splits}) and {data['originals_written']:,} originals; "
        f"{written.get('annotations', 0):,} annotations"
    )
    rows = [
        ["objects into the pipeline", data["objects_in"], ""],
        ["objects in the copies", data["objects_out"], ""],
        ["clipped at the border (kept)", data["clipped"], _ids(data, "clipped")],
        ["dropped: too little left in the image", data["dropped_outside"], _ids(data, "dropped_outside")],
        ["dropped: degenerate box", data["dropped_degenerate"], _ids(data, "dropped_degenerate")],
    ]
    out.print(_render.table("Objects", ["", "count", "example source annotation ids"], rows))
    for loss in written.get("losses", []):
        out.print(f"[yellow]not kept by {data['format']}[/]: {loss['code']} x{loss['count']}: {loss['message']}")
    for finding in data["findings"]:
        out.print(f"[red]skipped[/] {finding['file']}: {finding['message']}")
    if data["preview"]:
        out.print(f"preview: {data['preview']}")
    for note in data["notes"]:
        out.print(f"[dim]note: {note}[/]")


def _ids(data: dict[str, Any], key: str) -> str:
    return ", ".join(map(str, data["examples"].get(key, [])))
