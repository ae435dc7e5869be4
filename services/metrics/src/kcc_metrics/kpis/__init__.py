"""KPI definitions: pure functions from facts to figures (no store, no transport)."""
