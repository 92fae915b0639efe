"""The core's messages (validation, users, permissions) in the user's language.

The core speaks English and names fields, types and choices by their catalogue names; each known
message shape is matched here and said again with translated words. An unknown message is shown
as it is, so a new core message is never lost, only untranslated (a test lists the known ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import lazy_gettext as _l

from tracker.web.labels import choice_label, type_label

_Word = Callable[[str], str]


def _choices(text: str) -> str:
    return ", ".join(choice_label(c.strip()) for c in text.split(","))


def _same(text: str) -> str:
    return text


def _strip_quotes(text: str) -> str:
    return text.strip("'\"")


# (pattern, translation with %(name)s placeholders, how to say each named group)
_RULES: list[tuple[str, object, dict[str, _Word]]] = [
    (r"is required", _l("is required"), {}),
    (r"must not be empty", _l("must not be empty"), {}),
    (r"must be at most (?P<n>\d+) characters long", _l("must be at most %(n)s characters long"), {}),
    (
        r"must not contain control characters \(other than newline and tab\) or bidi controls",
        _l("must not contain control characters (other than newline and tab) or bidi controls"),
        {},
    ),
    (
        r"must be on one line, without control or invisible formatting characters",
        _l("must be on one line, without control or invisible formatting characters"),
        {},
    ),
    (
        r"must contain a visible character, and begin and end with one",
        _l("must contain a visible character, and begin and end with one"),
        {},
    ),
    (r"must be true or false", _l("must be yes or no"), {}),
    (r"must be a whole number", _l("must be a whole number"), {}),
    (r"must be a number", _l("must be a number"), {}),
    (r"must be a finite number", _l("must be a finite number"), {}),
    (
        r"must be at least (?P<low>[-\d.]+) and at most (?P<high>[-\d.]+)",
        _l("must be at least %(low)s and at most %(high)s"),
        {},
    ),
    (r"must be at least (?P<low>[-\d.]+)", _l("must be at least %(low)s"), {}),
    (r"must be at most (?P<high>[-\d.]+)", _l("must be at most %(high)s"), {}),
    (r"must be a JSON object", _l("must be a set of fields"), {}),
    (
        r'must be an ISO 3166-1 alpha-2 country code in capitals, like "KZ"',
        _l("must be a country from the list"),
        {},
    ),
    (r"must be one of (?P<choices>.+)", _l("must be one of: %(choices)s"), {"choices": _choices}),
    (
        r"must be a real calendar date written YYYY-MM-DD, from (?P<low>\S+) to (?P<high>\S+)",
        _l("must be a real calendar date (YYYY-MM-DD) from %(low)s to %(high)s"),
        {},
    ),
    (
        r"must be a real calendar date written YYYY-MM-DD, not before (?P<low>\S+)",
        _l("must be a real calendar date (YYYY-MM-DD), not before %(low)s"),
        {},
    ),
    (r"must be the id of an event \(a UUID\)", _l("must be an event of this case"), {}),
    (r"must be a username: .*", _l("must be a user name"), {}),
    (
        r'must be a 3-letter currency code in capitals, like "EUR"',
        _l('must be a 3-letter currency code in capitals, like "EUR"'),
        {},
    ),
    (
        r"must be the SHA-256 of the file, 64 hex digits",
        _l("must be the SHA-256 of the file, 64 hex digits"),
        {},
    ),
    (r"must be a media type, like application/pdf", _l("must be a media type, like application/pdf"), {}),
    (r"must be a string matching (?P<pattern>.+)", _l("must match %(pattern)s"), {}),
    (r"must be a string", _l("must be text"), {}),
    (r"is not a field of (?P<type>\w+)", _l("is not a field of “%(type)s”"), {"type": type_label}),
    (r"must not be before (?P<field>\w+)", _l("must not be before the start date"), {}),
    (r"is not a known event type", _l("is not a known event type"), {}),
    (r"unknown event type", _l("is not a known event type"), {}),
    (r"an event type is required", _l("choose an event type"), {}),
    (r"unknown field", _l("is not a field of this event"), {}),
    (
        r"must not be in the future \(after (?P<day>\S+)\)",
        _l("must not be in the future (after %(day)s)"),
        {},
    ),
    (r"the date it happened is required \(YYYY-MM-DD\)", _l("the date it happened is required"), {}),
    (r"invalid date", _l("is not a valid date"), {}),
    (
        r"(?P<type>\w+) is written by its own action only",
        _l("“%(type)s” is recorded by its own action only"),
        {"type": type_label},
    ),
    (
        r"case_opened must be the first event of a case \(version 1\)",
        _l("a case is opened only once"),
        {},
    ),
    (r"a case starts with case_opened", _l("a case starts when it is opened"), {}),
    (
        r"no criminal_case_opened event with this id in this case",
        _l("choose a criminal case of this case"),
        {},
    ),
    (
        r"no related_person_recorded event with this id in this case",
        _l("choose a related person of this case"),
        {},
    ),
    (r"no follow_up_set event with this id in this case", _l("choose a follow-up of this case"), {}),
    (r"(?P<name>\S+) may not see this case", _l("%(name)s may not see this case"), {}),
    (r"no such user: (?P<name>.+)", _l("no such user: %(name)s"), {}),
    (r"no deadline with this key in this case", _l("choose an open deadline of this case"), {}),
    (r"the case is already closed", _l("the case is already closed"), {}),
    (r"the case is not closed", _l("the case is not closed"), {}),
    (r"no event with this id in this case", _l("choose an event of this case"), {}),
    (
        r"a (?P<type>\w+) event cannot be corrected or retracted",
        _l("a “%(type)s” event cannot be corrected or retracted"),
        {"type": type_label},
    ),
    (r"this event was retracted", _l("this event was retracted"), {}),
    (
        r"case_opened cannot be retracted; close the case instead",
        _l("the opening of a case cannot be retracted; close the case instead"),
        {},
    ),
    (
        r"the personal data of this case was erased; it cannot be recorded",
        _l("the personal data of this case was erased; it cannot be recorded"),
        {},
    ),
    # Attachments (services/attachments.py, files/content.py, domain/commands.py).
    (
        r"the personal data of this case was erased; no file can be added",
        _l("the personal data of this case was erased; no file can be added"),
        {},
    ),
    (
        r"no event with this id in this case that a file can support",
        _l("choose an event of this case that the file supports"),
        {},
    ),
    (
        r"an attachment cannot be corrected; retract it and attach the file again",
        _l("an attachment cannot be corrected; retract it and attach the file again"),
        {},
    ),
    (r"a file with a name is required", _l("a file with a name is required"), {}),
    (r"the file is empty", _l("the file is empty"), {}),
    (
        r"the file's content is not of an accepted type \((?P<types>.+)\)",
        _l("the file's content is not of an accepted type (%(types)s)"),
        {},
    ),
    (
        r"the file name's ending is not one of an accepted type \((?P<types>.+)\)",
        _l("the file name's ending is not one of an accepted type (%(types)s)"),
        {},
    ),
    (
        r"the file's content is (?P<actual>\S+), but its name says (?P<claimed>\S+)",
        _l("the file's content is %(actual)s, but its name says %(claimed)s"),
        {},
    ),
    (
        r"the file's content is (?P<actual>\S+), but it was sent as (?P<claimed>\S+)",
        _l("the file's content is %(actual)s, but it was sent as %(claimed)s"),
        {},
    ),
    (r"the image has more than (?P<num>\d+) pixels", _l("the image has more than %(num)s pixels"), {}),
    (
        r"the image cannot be read \(damaged, cut short or too large\)",
        _l("the image cannot be read (damaged, cut short or too large)"),
        {},
    ),
    (
        r"the password must have at least (?P<n>\d+) characters",
        _l("the password must have at least %(n)s characters"),
        {},
    ),
    (
        r"the password is too long \((?P<n>\d+) characters at most\)",
        _l("the password is too long (%(n)s characters at most)"),
        {},
    ),
    (
        r"invalid user name (?P<name>.+?): 2-40 characters.*",
        _l("invalid user name %(name)s: 2 to 40 lowercase letters, digits, “.”, “_” or “-”"),
        {},
    ),
    (r"unknown role (?P<role>[^:]+)(: .*)?", _l("unknown role %(role)s"), {}),
    (r"user (?P<name>.+) already exists", _l("user %(name)s already exists"), {"name": _strip_quotes}),
    (r"the current password is not right", _l("the current password is not right"), {}),
    (r"the second factor is already on", _l("the second factor is already on"), {}),
    (r"your role requires a second factor", _l("your role requires a second factor"), {}),
    (
        r"you cannot change your own role or disable your own account",
        _l("you cannot change your own role or disable your own account"),
        {},
    ),
    (r"auditors have read-only access", _l("auditors have read-only access"), {}),
    (r"auditors cannot open cases", _l("auditors cannot open cases"), {}),
    (
        r"only supervisors and admins assign caseworkers",
        _l("only supervisors and admins assign caseworkers"),
        {},
    ),
    (r"only admins .*", _l("only admins may do this"), {}),
    # The hash-chain check (services/integrity.py).
    (
        r"version (?P<n>\d+) is missing \(found (?P<found>\d+)\)",
        _l("version %(n)s is missing (version %(found)s comes instead)"),
        {},
    ),
    (
        r"version (?P<n>\d+) is missing \(the case reached version (?P<reached>\d+)\)",
        _l("version %(n)s is missing (the case had reached version %(reached)s)"),
        {},
    ),
    (r"version 1 is not case_opened", _l("version 1 is not the opening of the case"), {}),
    (
        r"the hash of version (?P<n>\d+) does not match its content and chain",
        _l("the hash of version %(n)s does not match its content and chain"),
        {},
    ),
    (
        r"the personal data of case \S+ was already erased",
        _l("the personal data of this case was already erased"),
        {},
    ),
]

_COMPILED = [(re.compile(p), t, w) for p, t, w in _RULES]


def translate(message: str) -> str:
    """The message in the current language (as it is when its shape is not known)."""
    for pattern, template, words in _COMPILED:
        match = pattern.fullmatch(message)
        if match is None:
            continue
        values = {k: words.get(k, _same)(v) for k, v in match.groupdict().items() if v is not None}
        return str(template) % values if values else str(template)
    return message


def known(message: str) -> bool:
    """Whether the message has a translation."""
    return any(p.fullmatch(message) for p, _t, _w in _COMPILED)
