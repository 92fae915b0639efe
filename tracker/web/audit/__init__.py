"""The web UI: audit."""
