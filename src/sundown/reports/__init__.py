"""Stats, terminal charts and the HTML report, folded from the event log."""
