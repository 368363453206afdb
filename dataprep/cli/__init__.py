"""The ``dataprep`` command line: one module per command, each a thin shell over the API."""

from __future__ import annotations

import typer

from dataprep.cli import convert, demo, info, samples, validate

app = typer.Typer(
    name="dataprep",
    help="Computer-vision datasets from raw annotations to a trained, evaluated model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("convert", help=convert.HELP)(convert.command)
app.command("info", help=info.HELP)(info.command)
app.command("validate", help=validate.HELP)(validate.command)
app.command("demo", help=demo.HELP)(demo.command)
app.add_typer(samples.app, name="samples")


def main() -> None:
    """Console-script entry point."""
    app()
