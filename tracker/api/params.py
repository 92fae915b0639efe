"""Query-string parsing with errors that name the parameter. An empty value (`?limit=`) is a bad value."""

from __future__ import annotations

import re
from datetime import date

from flask import request

from tracker.api import ApiError

_WHOLE = re.compile("-?[0-9]{1,12}")


def int_param(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    # [0-9] only: int() would also read other scripts' digits, "1_0", "+5" and " 5".
    if not _WHOLE.fullmatch(raw):
        raise ApiError(400, f"{name} must be a whole number in digits 0-9", {name: "not a whole number"})
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}", {name: f"between {low} and {high}"})
    return value


def bool_param(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise ApiError(400, f"{name} must be true or false", {name: "true or false"})


def date_param(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date (YYYY-MM-DD)", {name: "not a date"}) from None


def choice_param(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}", {name: "not an allowed value"})
    return raw
