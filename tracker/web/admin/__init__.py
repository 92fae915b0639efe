"""The web UI: admin."""
