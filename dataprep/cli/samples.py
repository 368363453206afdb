"""``dataprep samples`` (placeholder until the samples generator lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Regenerate the bundled sample datasets.", no_args_is_help=True)


@app.command("regenerate")
def regenerate() -> None:
    """Regenerate samples/ (not yet available)."""
    raise SystemExit("samples are not available yet")
