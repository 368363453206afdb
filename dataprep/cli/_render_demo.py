"""Rendering for ``dataprep demo``: one block per finished stage of `dataprep.demo.run_demo`."""

from __future__ import annotations

from dataprep.cli import _render, info
from dataprep.demo import SPLIT_SAMPLE, DemoResult


def render_stage(stage: str, result: DemoResult) -> None:
    """Print what `stage` (one of `dataprep.demo.STAGES`) produced, on stdout."""
    from dataprep.summary import summarize

    console = _render.console()
    if stage == "source":
        source = result.source
        info.print_summary(result.source_path, source.format, summarize(source.dataset), notes=source.notes)
    elif stage == "conversions":
        columns = ["step", "output", "images", "labels", "classes", "losses"]
        rows = [[c[k] if k != "losses" else ", ".join(c[k]) or "lossless" for k in columns] for c in result.conversions]
        console.print(_render.table("Conversions", [*columns[:-1], "not kept"], rows))
    elif stage == "validation":
        columns = ["sample", "errors", "warnings", "info", "exit_code"]
        rows = [[v[k] for k in columns] for v in result.validation]
        console.print(_render.table("Validation of the samples", [*columns[:-1], "exit"], rows))
    elif stage == "split":
        parts = ", ".join(f"{name} {n}" for name, n in result.split.splits["images"].items())
        console.print(
            f"split {SPLIT_SAMPLE} -> {result.split_path} (stratified, seed 0): {parts}",
            soft_wrap=True,
        )
    elif stage == "runs":
        rows = [[r["title"], r["epochs"], "-" if r["test"] is None else r["test"], r["metric"], r["report"]]
                for r in result.runs]  # fmt: skip
        columns = ["model", "epochs", "test", "metric", "report"]
        console.print(_render.table("Trained and evaluated on the test split", columns, rows))
        console.print("reports: " + " and ".join(r["report"] for r in result.runs), soft_wrap=True)
