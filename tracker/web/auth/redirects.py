"""Where a sign-in may lead afterwards: only a page of the tracker, never another site."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import current_app, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

MAX_LENGTH = 2000


def _plain(text: str) -> bool:
    # Printable ASCII without space or backslash: browsers drop tabs and newlines and read "\" as "/",
    # which is how "/\t/evil.example" and "/\\evil.example" become another host after a check.
    return all("!" <= c <= "~" and c != "\\" for c in text)


def _is_page(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except (HTTPException, RequestRedirect):
        return False
    return True


def safe_next(target: str | None) -> str:
    """`target` when it is a page of this site (path and query only), else the dashboard."""
    home = url_for("web_dashboard.index")
    if not target or len(target) > MAX_LENGTH or not _plain(target):
        return home
    parts = urlsplit(target)
    decoded = unquote(parts.path)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return home
    # The same rules once percent-decoded ("/%2F/evil.example"), and it must be one of our pages.
    if not _plain(decoded) or decoded.startswith("//") or not _is_page(decoded):
        return home
    return parts.path + (f"?{parts.query}" if parts.query else "")
