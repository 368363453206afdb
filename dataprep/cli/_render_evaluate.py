"""Rendering for ``dataprep evaluate``: the COCO summary, per-class and error tables (errors: `_render.guard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataprep.cli import _render
from dataprep.errors import ExitCode, Severity

CLASS_ROWS = 30  # classes listed, worst AP first; --json has them all


def emit(result: Any, *, as_json: bool, report: Path | None) -> None:
    """Print `result` (JSON or tables) and exit 1 when predictions had to be dropped."""
    if as_json:
        data = result.to_dict()
        if report is not None:
            data["report"] = str(report)
        _render.print_json(data)
    else:
        print_human(result, report)
    if any(f.severity == Severity.ERROR for f in result.findings):
        _render.exit_with(ExitCode.FINDINGS)


def print_human(result: Any, report: Path | None) -> None:
    """The pycocotools-style summary and the per-class table of a result."""
    out = _render.console()
    out.print(str(result), markup=False)
    per_class = result.per_class
    if result.task == "detection":
        columns = ["name", "gt", "predictions", "AP", "AP50", "AP75", "voc_ap", "precision", "recall", "f1"]
        rows = per_class.sort_values("AP", kind="stable")[columns].head(CLASS_ROWS)
        out.print(
            _render.table(
                f"Per class (worst AP first, {len(rows)} of {len(per_class)})",
                columns,
                rows.astype(object).values.tolist(),
            )
        )
        errors = result.errors.reset_index()
        out.print(
            _render.table(
                "Errors (after TIDE)", ["kind", "count", "AP gained if fixed"], errors.astype(object).values.tolist()
            )
        )
    else:
        columns = ["name", "precision", "recall", "f1", "support"]
        rows = per_class.sort_values("f1", kind="stable")[columns].head(CLASS_ROWS)
        out.print(
            _render.table(
                f"Per class (worst F1 first, {len(rows)} of {len(per_class)})",
                columns,
                rows.astype(object).values.tolist(),
            )
        )
        if result.most_confused:
            pairs = [[p["true"], p["predicted"], p["count"]] for p in result.most_confused]
            out.print(_render.table("Most confused", ["true", "predicted", "count"], pairs))
    matched = ", ".join(f"{k} by {v}" for k, v in result.matched_by.items())
    out.print(f"[dim]matched {matched}[/]")
    for f in result.findings:
        color = "red" if f.severity == Severity.ERROR else "yellow"
        out.print(f"[{color}]{f.severity}[/] {f.code}: {f.message}. {f.hint or ''}", markup=True)
    for note in result.notes:
        out.print(f"[dim]note: {note}[/]")
    if report is not None:
        out.print(f"[green]report[/] {report / 'index.html'}")
