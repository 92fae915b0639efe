"""The web UI: cases."""
