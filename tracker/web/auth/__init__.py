"""The web UI: auth."""
