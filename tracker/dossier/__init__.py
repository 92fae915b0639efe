"""The dossier as a PDF (fpdf2, with the DejaVu fonts shipped in ./fonts under their licence)."""
