"""Rendering for ``dataprep split``: the per-split and per-class tables (errors: `_render.guard`)."""

from __future__ import annotations

from typing import Any

from dataprep.cli import _render

_STRATIFIED = {"labels": "stratified per class on {}", "class": "stratified on one class per image", "none": "random"}
CLASS_ROWS = 30  # classes listed in the table, largest deviation first; --json has them all


def print_human(data: dict[str, Any], dst: str) -> None:
    """Tables for a `SplitResult.to_dict()`."""
    out = _render.console()
    written = data["written"]
    kind = "boxes" if data.get("has_boxes", True) else "labels"
    out.print(
        f"[green]wrote[/] {dst} ({written['format']}): {written['images']:,} images, "
        f"{written['annotations']:,} annotations; seed {data['seed']}, " + _STRATIFIED[data["stratify"]].format(kind)
    )
    rows = [
        [s["split"], _pct(s["target"]), s["images"], _pct(s["image_share"]), s["annotations"]] for s in data["splits"]
    ]
    out.print(_render.table("Splits", ["split", "target", "images", "share", kind], rows))
    classes = _by_class(data["classes"])
    if classes:
        names = [s["split"] for s in data["splits"]]
        worst = sorted(classes, key=lambda c: -c["deviation"])[:CLASS_ROWS]
        rows = [
            [
                c["name"],
                c["images"],
                c["annotations"],
                *(_pct(c["shares"].get(n, 0.0)) for n in names),
                f"{c['deviation']:.4f}",
            ]
            for c in worst
        ]
        title = f"Share of each class's {kind} per split (largest deviation first"
        title += f"; {len(classes) - len(worst)} more in --json)" if len(classes) > len(worst) else ")"
        out.print(_render.table(title, ["class", "images", kind, *names, "max dev"], rows))
    dev = data["largest_deviation"]
    if dev:
        out.print(
            f"largest deviation: {dev['name']!r} in {dev['split']}: {_pct(dev['annotation_share'])} of its {kind} "
            f"for a target of {_pct(dev['target'])} ({dev['deviation']:.4f})"
        )
    g = data["groups"]
    parts = [f"{g['units']:,} units", f"{g['multi_image_groups']:,} of several images ({g['images_in_groups']:,})"]
    if "identical_content" in g:
        parts.append(f"{g['identical_content']['sets']:,} sets of identical images")
    if "near_duplicates" in g:
        near = g["near_duplicates"]
        parts.append(f"{near['pairs']:,} near-duplicate pairs (<= {near['threshold']} bits)")
    out.print("groups: " + ", ".join(parts))
    leaks = data["leaks"]
    style = "green" if leaks["content_checked"] and not leaks["identical_images_across_splits"] else "yellow"
    out.print(f"[{style}]{leaks['statement']}[/]")
    if data["kept_existing"]:
        out.print(f"kept the split of {data['kept_existing']:,} images that had one")
    for rare in data["rare_classes"]:
        out.print(f"[yellow]too rare[/]: {rare['message']}. {rare['hint']}")
    losses = written["losses"]
    if losses:
        rows = [[x["code"], x["count"], x["unit"], x["message"]] for x in losses]
        out.print(_render.table(f"Not kept by {written['format']}", ["what", "count", "unit", "detail"], rows))
    for note in data["notes"]:
        out.print(f"[dim]note: {note}[/]")


def _by_class(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    classes: dict[int, dict[str, Any]] = {}
    for r in rows:
        c = classes.setdefault(
            r["category_id"], {"name": r["name"], "images": 0, "annotations": 0, "deviation": 0.0, "shares": {}}
        )
        c["images"] += r["images"]
        c["annotations"] += r["annotations"]
        c["deviation"] = max(c["deviation"], r["deviation"])
        c["shares"][r["split"]] = r["annotation_share"]
    return list(classes.values())


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"
