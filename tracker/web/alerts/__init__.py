"""The web UI: alerts."""
