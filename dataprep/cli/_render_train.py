"""Rendering for ``dataprep train`` and ``dataprep predict``: rich progress, result tables (errors: `_render.guard`)."""

from __future__ import annotations

import sys
from typing import Any

from dataprep.cli import _render


class Progress:
    """Callbacks for `dataprep.training.train` drawing a rich bar (stderr) with live loss and val metric.

    Quiet (no bar, no lines) with `quiet`; one line per epoch when stderr is not a terminal.
    """

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.live = not quiet and sys.stderr.isatty()
        self.console = _render.console(stderr=True)
        self.bar: Any = None
        self.task: Any = None
        self.epochs = 0
        self.metric = "val"
        self.last = ""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def on_start(self, config: dict[str, Any]) -> None:
        self.epochs = int(config["train"]["epochs"])
        self.metric = "accuracy" if config["task"] == "classification" else "AP50"
        if self.quiet:
            return
        t = config["train"]
        self.console.print(
            f"[bold]{t['model']}[/] ({config['parameters']:,} parameters) on {config['data']}: "
            f"{config['task']}, splits {config['splits']}, img {config['meta']['img_size']} px, "
            f"{config['threads']} thread(s), seed {t['seed']}"
        )
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"), console=self.console, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("epoch 1", total=None, info="")

    def on_step(self, step: int, steps: int, loss: float) -> None:
        if self.bar is not None:
            epoch = self.last or "epoch"
            self.bar.update(self.task, completed=step, total=steps, info=f"loss {loss:.4f} {epoch}")

    def on_epoch(self, record: dict[str, float]) -> None:
        line = (
            f"epoch {int(record['epoch'])}/{self.epochs}  loss {record['train_loss']:.4f}  "
            f"val loss {record['val_loss']:.4f}  val {self.metric} {record['val_metric']:.4f}  "
            f"lr {record['lr']:.2e}  {record['seconds']:.1f}s"
        )
        self.last = f"| val {self.metric} {record['val_metric']:.4f}"
        if self.bar is not None:
            self.bar.update(self.task, description=f"epoch {int(record['epoch']) + 1}", completed=0)
            self.bar.console.print(line)
        elif not self.quiet:
            self.console.print(line)


def print_result(data: dict[str, Any]) -> None:
    """The end of a run: best epoch, test metrics, where everything is."""
    out = _render.console()
    out.print(
        f"[green]done[/] ({data['stopped']}): best val {data['metric']} {data['best_val_metric']:.4f} "
        f"at epoch {data['best_epoch']} of {data['epochs_run']}"
    )
    test = data.get("test")
    if test:
        keys = ["accuracy"] if data["task"] == "classification" else ["AP", "AP50", "AP75"]
        rows = [[k, float(test[k])] for k in keys if k in test]
        out.print(_render.table("Test split (best checkpoint)", ["metric", "value"], rows))
    out.print(f"weights: {data['weights']['best']}", soft_wrap=True)
    if data.get("report"):
        out.print(f"report: {data['report']}/index.html", soft_wrap=True)
    export = data.get("export")
    if export:
        out.print(
            f"exported {export['format']}: {export['path']} (max |diff| vs eager {export['max_abs_diff']:.1e}; "
            f"batch 1, 1 thread: {export['eager_images_per_s']:.0f} images/s eager, "
            f"{export['exported_images_per_s']:.0f} exported)",
            soft_wrap=True,
        )
