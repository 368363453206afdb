"""The ``dataprep`` command line: one module per command, each a thin shell over the API."""

from __future__ import annotations

from typing import Annotated

import typer

from dataprep.cli import _render, convert, demo, info, samples, validate
from dataprep.cli import anchors as anchors_command
from dataprep.cli import augment as augment_command
from dataprep.cli import encode as encode_command
from dataprep.cli import evaluate as evaluate_command
from dataprep.cli import predict as predict_command
from dataprep.cli import split as split_command
from dataprep.cli import train as train_command

app = typer.Typer(
    name="dataprep",
    help="Computer-vision datasets from raw annotations to a trained, evaluated model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_render.GuardedGroup,  # the top-level guard: no crash exits 1, --json errors on stdout
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", envvar="DATAPREP_DEBUG", help="Show the traceback of internal errors.")
    ] = False,
) -> None:
    """Computer-vision datasets from raw annotations to a trained, evaluated model."""


def _reflow(text: str) -> str:
    """Join the hard-wrapped lines of each paragraph, so the terminal's width decides the wrap."""
    return "\n\n".join(" ".join(part.split()) for part in text.strip().split("\n\n"))


app.command("convert", help=_reflow(convert.HELP))(convert.command)
app.command("info", help=_reflow(info.HELP))(info.command)
app.command("validate", help=_reflow(validate.HELP))(validate.command)
app.command("split", help=_reflow(split_command.HELP))(split_command.command)
app.command("augment", help=_reflow(augment_command.HELP))(augment_command.command)
app.command("evaluate", help=_reflow(evaluate_command.HELP))(evaluate_command.command)
app.command("encode", help=_reflow(encode_command.HELP))(encode_command.command)
app.command("anchors", help=_reflow(anchors_command.HELP))(anchors_command.command)
app.command("train", help=_reflow(train_command.HELP))(train_command.command)
app.command("predict", help=_reflow(predict_command.HELP))(predict_command.command)
app.command("demo", help=_reflow(demo.HELP))(demo.command)
app.add_typer(samples.app, name="samples")


def main() -> None:
    """Console-script entry point."""
    app()
