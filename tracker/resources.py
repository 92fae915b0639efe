"""What the tracker reads at run time from its own package: templates, static files, default settings
and rules, Alembic's scripts, translations and the demo cases. Found through importlib.resources, so an
installed wheel and a checkout read the same files. (Wheels install as plain files; the tracker does not
run from a zip archive, since Jinja, Alembic and Flask-Babel want folders.)"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A file or folder inside the installed `tracker` package."""
    return Path(str(resources.files("tracker").joinpath(*parts)))


TEMPLATES = package_path("templates")
STATIC = package_path("web", "static")
DEFAULTS = package_path("defaults")
MIGRATIONS = package_path("migrations")
TRANSLATIONS = package_path("translations")
DOSSIER_FONTS = package_path("dossier", "fonts")
