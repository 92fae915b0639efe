"""The device cookie: a browser that signed in to an account before says so, signed by the server.

It lets the sign-in limits tell the account's owner (on a browser they used before) from a guesser
elsewhere: failures elsewhere never slow that browser down. It holds no secret of the user: only
a random id per account, and the server's signature (the session's SECRET_KEY).
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

COOKIE = "tracker_device"
MAX_AGE = 180 * 24 * 3600
#: Accounts remembered per browser (a shared office computer), newest kept.
MAX_ACCOUNTS = 8


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt="tracker-device")


def _known() -> dict[str, str]:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 4000:
        return {}
    try:
        value = _serializer().loads(raw, max_age=MAX_AGE)
    except BadSignature:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def device_for(username: str) -> str | None:
    """The id this browser holds for the account, if the server gave it one at an earlier sign-in."""
    return _known().get(username.strip().lower())


def remember(response: Response, username: str, device: str | None) -> None:
    """After a sign-in: this browser is a known device of the account from now on."""
    known = _known()
    known.pop(username, None)
    known[username] = device or secrets.token_hex(8)
    kept = dict(list(known.items())[-MAX_ACCOUNTS:])
    response.set_cookie(
        COOKIE,
        _serializer().dumps(kept),
        max_age=MAX_AGE,
        path="/login",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure,
        httponly=True,
        samesite="Lax",
    )
