"""Attached files: their storage (encrypted at rest) and what their content is."""
