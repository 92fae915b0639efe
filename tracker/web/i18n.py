"""Languages: English and Russian, chosen by ?lang= (remembered for the user), then the browser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from tracker.clock import current_zone
from tracker.crypto.codec import ERASED
from tracker.events.catalogue import CATALOGUE
from tracker.events.countries import COUNTRY_CODES
from tracker.resources import TRANSLATIONS
from tracker.services import account
from tracker.web import labels, messages

LOCALES = account.LOCALES
NAMES = {"en": "English", "ru": "Русский"}

# The built-in deadline titles (tracker/defaults/deadlines.toml); an organization's own show as written.
_TITLES = [
    (re.compile(r"Legal stay in (?P<country>\w+) expires"), _l("Legal stay in %(country)s expires")),
    (
        re.compile(r"Removal order: leave (?P<country>\w+) by this date"),
        _l("Removal order: leave %(country)s by this date"),
    ),
    (re.compile(r"Document expires \((?P<kind>\w+)\)"), _l("Document expires (%(kind)s)")),
    (re.compile(r"Court hearing"), _l("Court hearing")),
    (re.compile(r"Asylum interview in (?P<country>\w+)"), _l("Asylum interview in %(country)s")),
    (
        re.compile(r"Appeal against the (?P<country>\w+) asylum decision \((?P<body>.*)\)"),
        _l("Appeal against the %(country)s asylum decision (%(body)s)"),
    ),
    (re.compile(r"Days of stay in (?P<country>\w+) run out"), _l("Days of stay in %(country)s run out")),
    (re.compile(r"Check-in due"), _l("Check-in due")),
    (
        re.compile(r"Asylum filing window in (?P<country>\w+) closes"),
        _l("Asylum filing window in %(country)s closes"),
    ),
    (
        re.compile(r"Establish the legal stay in (?P<country>\w+)"),
        _l("Establish the legal stay in %(country)s"),
    ),
]


def select_locale() -> str | None:
    if not has_request_context():
        return None
    chosen = g.get("lang")
    if chosen:
        return str(chosen)
    if current_user.is_authenticated and current_user.locale in LOCALES:
        return str(current_user.locale)
    if session.get("lang") in LOCALES:
        return str(session["lang"])
    return request.accept_languages.best_match(LOCALES, "en")


def _remember_lang() -> None:
    """?lang=en|ru chooses the language and remembers it (in the session and for the user)."""
    lang = request.args.get("lang")
    if lang not in LOCALES or request.blueprint == "api":
        return
    g.lang = lang
    session["lang"] = lang
    if not current_user.is_authenticated:
        session["lang_chosen"] = True  # chosen on the sign-in page: signing in saves it for the user
    elif current_user.locale != lang:
        account.set_locale(current_app.extensions["tracker"], current_user.id, lang)


def lang_url(code: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    args["lang"] = code
    return request.path + "?" + urlencode(args)


@cache
def _countries(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    return tuple(sorted(((c, names.get(c, c)) for c in COUNTRY_CODES), key=lambda item: item[1]))


def current_lang() -> str:
    return str(get_locale() or "en")


def countries() -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, sorted by name in the current language."""
    return _countries(current_lang())


def usual_countries() -> tuple[tuple[str, str], ...]:
    """(code, name) of the organization's usual countries (setting USUAL_COUNTRIES), in its order."""
    raw = str(current_app.extensions["tracker"].settings.get("USUAL_COUNTRIES") or "")
    codes = dict.fromkeys(c.strip().upper() for c in raw.split(","))
    return tuple((c, country_name(c)) for c in codes if c in COUNTRY_CODES)


def other_countries() -> tuple[tuple[str, str], ...]:
    """Every country but the usual ones, sorted by name in the current language."""
    usual = {c for c, _name in usual_countries()}
    return tuple(item for item in countries() if item[0] not in usual)


@cache
def _territories(lang: str) -> Mapping[str, str]:
    return Locale.parse(lang).territories


def country_name(code: object) -> str:
    text = str(code or "")
    return _territories(current_lang()).get(text, text) if text in COUNTRY_CODES else text


def show_date(value: object, precision: str = "day") -> str:
    """A date as YYYY-MM-DD, or YYYY-MM / YYYY when only the month or year is known."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        return ""
    return text[:7] if precision == "month" else text[:4] if precision == "year" else text


def show_day(value: object, precision: str = "day") -> str:
    """A date of the status card: YYYY-MM-DD, "October 2023" / "октябрь 2023", or the year alone."""
    text = show_date(value)
    if precision == "day" or len(text) != 10:
        return text
    if precision == "year":
        return text[:4]
    return format_date(date.fromisoformat(text), "LLLL y", locale=current_lang())


def month_span(first: date, last: date) -> str:
    """The months a stretch of the timeline covers.

    "March 2024", "March–June 2024", "November 2023 – February 2024".
    """
    lang = current_lang()
    if (first.year, first.month) == (last.year, last.month):
        return format_date(first, "LLLL y", locale=lang)
    if first.year == last.year:
        return f"{format_date(first, 'LLLL', locale=lang)}–{format_date(last, 'LLLL y', locale=lang)}"
    return f"{format_date(first, 'LLLL y', locale=lang)} – {format_date(last, 'LLLL y', locale=lang)}"


def short_day(value: object) -> str:
    """A day written short in the page's language: "8 Dec 2026" / "8 дек. 2026 г."."""
    text = show_date(value)
    if len(text) != 10:
        return text
    return format_date(date.fromisoformat(text), "medium", locale=current_lang())


def show_time(value: object) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return ""
    # Stored in UTC; shown in the user's (or the organization's) time zone, which is named.
    tz = current_zone(current_app.extensions["tracker"].zone)
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M") + " " + tz.key


def deadline_title(title: str) -> str:
    for pattern, template in _TITLES:
        match = pattern.fullmatch(title)
        if match:
            values = {
                k: (country_name(v) if k == "country" else labels.choice_label(v))
                for k, v in match.groupdict().items()
            }
            if "body" in values:
                values["body"] = match.group("body")
            return str(template) % values if values else str(template)
    return title


def related_person_name(entry: Any) -> str:
    """A related person as a form or the timeline names them: relation, and legal name when shown."""
    fix = entry.correction
    data = fix.data if fix is not None and fix.data is not None else entry.data
    relation = labels.choice_label(data.get("relation", "other"))
    name = data.get("legal_name")
    return f"{relation}: {name}" if isinstance(name, str) and name != ERASED else relation


def name_events(entries: Iterable[Any]) -> None:
    """Let this request's pages name an event another refers to: a criminal case by its date and
    article, a related person by relation and name, a follow-up by its title."""
    refs: dict[str, str] = {}
    for e in entries:
        if e.type == "related_person_recorded" and e.state != "retracted":
            refs[e.id] = related_person_name(e)
        elif e.type == "follow_up_set" and e.state != "retracted":
            refs[e.id] = str(e.data.get("title", "?"))
        if e.type == "criminal_case_opened" and e.state != "retracted":
            fix = e.correction
            data = fix.data if fix is not None and fix.data is not None else e.data
            day = show_date(e.effective_on, e.date_precision)
            refs[e.id] = f"{day}, {_('article')} {data.get('article', '?')}"
    g.event_refs = refs


def show_value(type_name: str, field_name: str, value: Any) -> str:
    """A payload value as a person reads it."""
    if value == ERASED:
        return _("[erased]")
    event_type = CATALOGUE.get(type_name)
    kind = "str"
    if event_type is not None and field_name in event_type.field_names:
        kind = event_type.field(field_name).kind
    if kind == "country":
        return f"{country_name(value)} ({value})" if value in COUNTRY_CODES else str(value)
    if kind in ("enum", "bool") or isinstance(value, bool):
        return labels.choice_label(value)
    if kind == "event_ref":
        named = g.get("event_refs", {}).get(str(value))
        return named if named is not None else str(value)[:8]
    return str(value)


def readable_json(value: Any) -> str:
    """JSON as a person reads it: letters of every script and quotes as they are (the page escapes it)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def multiline(text: str) -> Markup:
    """Plain text with its line breaks kept (escaped first)."""
    return Markup("<br>").join(Markup.escape(text).split("\n"))


def init_app(app: Flask) -> None:
    """Flask-Babel with the tracker's catalogues, and the helpers templates use."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.before_request(_remember_lang)
    app.jinja_env.globals.update(
        lang_url=lang_url,
        lang_names=NAMES,
        current_lang=current_lang,
        countries=countries,
        usual_countries=usual_countries,
        other_countries=other_countries,
        type_label=labels.type_label,
        field_label=labels.field_label,
        choice_label=labels.choice_label,
        group_label=lambda g: str(labels.GROUPS.get(g, g)),
        role_label=lambda r: str(labels.ROLES.get(r, r)),
        deadline_kind_label=labels.deadline_kind_label,
        audit_action_label=lambda a: str(labels.AUDIT_ACTIONS.get(a, a)),
        access_label=labels.access_label,
        precision_label=labels.precision_label,
        country_name=country_name,
        deadline_title=deadline_title,
        show_value=show_value,
        month_span=month_span,
        kind_label=lambda k: str(labels.KINDS.get(k, k)),
        msg=messages.translate,
    )
    app.jinja_env.filters.update(
        readable_json=readable_json,
        show_date=show_date,
        short_day=short_day,
        show_time=show_time,
        multiline=multiline,
    )
