"""The web UI: dashboard."""
