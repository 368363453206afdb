"""``python -m dataprep`` runs the CLI."""

from dataprep.cli import main

main()
