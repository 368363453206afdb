"""PNG plots and the self-contained HTML report, drawn from result objects only."""
