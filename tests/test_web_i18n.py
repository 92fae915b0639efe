"""English and Russian: every string of the UI translated, catalogues compiled, the choice remembered."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from browser.webkit import make_user, post_form, sign_in, signed_in, text

from tracker.auth.tables import UserRow
from tracker.domain.commands import parse_event
from tracker.events.catalogue import CATALOGUE, ValidationError, validate_data
from tracker.web import labels, messages

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "tracker" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalogue():
    with open(TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale="ru")


def _extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every string of the UI."""
    found: set[tuple[str | None, str]] = set()
    method_map = [("tracker/web/**.py", "python"), ("tracker/templates/**.html", "jinja2")]
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "pgettext": ((1, "c"), 2),
        "_l": None,
        "lazy_gettext": None,
    }
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def test_every_string_of_the_ui_has_a_russian_translation():
    catalogue = _catalogue()
    translated = {}
    for message in catalogue:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {key!r}"
        assert not message.fuzzy, f"fuzzy: {key!r}"
        for text_ in strings:
            assert set(PLACEHOLDER.findall(text_)) <= set(PLACEHOLDER.findall(key)), key
        translated[(message.context, key)] = strings
    missing = sorted(_extracted() - set(translated), key=str)
    assert not missing, f"strings without a Russian translation (run pybabel extract/update): {missing}"


def test_the_compiled_catalogue_matches_the_po_file():
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue())
    with open(TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        committed = read_mo(fh)
    compiled.seek(0)
    fresh = read_mo(compiled)

    def pairs(catalogue):  # type: ignore[no-untyped-def]
        return {_key(m.id): _key(m.string) for m in catalogue if m.id}

    assert pairs(committed) == pairs(fresh), (
        "messages.mo is out of date: run pybabel compile -d tracker/translations"
    )


def _key(value):  # type: ignore[no-untyped-def]
    return tuple(value) if isinstance(value, list | tuple) else value


def test_every_type_field_and_choice_of_the_catalogue_has_a_label():
    for name, event_type in CATALOGUE.items():
        assert name in labels.TYPES, name
        assert event_type.group in labels.GROUPS
        for field in event_type.fields:
            assert field.name in labels.FIELDS or (name, field.name) in labels.FIELD_OVERRIDES, field.name
            for choice in field.choices:
                assert choice in labels.CHOICES, choice


def _core_messages() -> set[str]:
    """The messages the catalogue gives for every kind of bad value of every field."""
    found: set[str] = set()
    bad_values = [123, "x", "", "zz", "2023-02-30", "9" * 6000, True, {"a": 1}, -5, 10**9, "\x07", 1.5]
    bad_values.append("\u200c")  # a lone joiner: no visible character
    for name, event_type in CATALOGUE.items():
        for field in event_type.fields:
            for value in bad_values:
                try:
                    validate_data(name, {field.name: value})
                except ValidationError as exc:
                    found.update(exc.fields.values())
        try:
            validate_data(name, {"no_such_field": 1})
        except ValidationError as exc:
            found.update(exc.fields.values())
    for body in (
        {},
        {"type": "nonsense"},
        {"type": "detained", "occurred_on": "2999-01-01"},
        {"type": "note_added", "occurred_on": "1800-01-01", "date_precision": "week", "extra": 1},
        {"type": "personal_data_erased", "occurred_on": "2020-01-01"},
    ):
        try:
            parse_event(body, __import__("datetime").date(2024, 1, 1))
        except ValidationError as exc:
            found.update(exc.fields.values())
    return found


def test_every_message_of_the_core_is_translated():
    found = _core_messages()
    assert len(found) > 15
    unknown = sorted(m for m in found if not messages.known(m))
    assert not unknown, unknown


def test_messages_are_said_again_with_translated_words(sqlite_app):
    with sqlite_app.test_request_context("/?lang=ru"):
        from flask import g

        g.lang = "ru"
        assert messages.translate("is required") == "обязательное поле"
        assert messages.translate("must be one of held, lost") == "должно быть одним из: на руках, утерян"
        assert messages.translate("is not a field of note_added") == "не является полем события «Заметка»"
        assert messages.translate("something new") == "something new"


def test_the_language_switch_is_on_every_page_and_remembered_for_the_user(sqlite_app):
    client = signed_in(sqlite_app, "anna", "caseworker")
    for path in ("/", "/cases", "/alerts", "/account", "/no-such-page"):
        page = text(client.get(path))
        assert 'hreflang="ru"' in page and "?lang=ru" in page, path
    russian = text(client.get("/cases?lang=ru"))
    assert '<html lang="ru">' in russian and ">Дела</a>" in russian
    assert '<html lang="ru">' in text(client.get("/"))  # stays Russian without the parameter
    with sqlite_app.extensions["tracker"].db.read() as session:
        assert session.scalar(sa.select(UserRow.locale).where(UserRow.username == "anna")) == "ru"
    other = sqlite_app.test_client()  # another browser, English by default ...
    assert '<html lang="en">' in text(other.get("/login", headers={"Accept-Language": "en"}))
    assert sign_in(other, "anna").status_code == 302
    assert '<html lang="ru">' in text(other.get("/"))  # ... follows the user's choice once signed in
    assert '<html lang="en">' in text(other.get("/?lang=en"))


@pytest.mark.parametrize("lang, message", [("en", "is required"), ("ru", "обязательное поле")])
def test_validation_errors_in_the_users_language(sqlite_app, lang, message):
    make_user(sqlite_app, "sam", "supervisor")
    client = sqlite_app.test_client()
    sign_in(client, "sam")
    client.get(f"/?lang={lang}")
    done = post_form(
        client,
        "/cases/new",
        {"occurred_on": "2024-01-01", "f-pseudonym": "Lark", "f-citizenship": "RU", "f-category": "other"},
    )
    case_path = done.headers["Location"]
    page = text(
        post_form(
            client,
            f"{case_path}/events/new",
            {"type": "relocated", "occurred_on": "2024-01-02"},
            page=f"{case_path}/events/new?type=relocated",
        )
    )
    assert re.search(rf'data-field="city">{message}<', page)


def test_wtforms_messages_are_translated(sqlite_app):
    make_user(sqlite_app, "ada", "admin")
    client = sqlite_app.test_client()
    sign_in(client, "ada")
    client.get("/?lang=ru")
    page = text(post_form(client, "/admin/users", {"username": "", "role": "caseworker", "password": ""}))
    assert "Обязательное поле." in page


@pytest.mark.parametrize(
    "lang, title, message",
    [
        ("en", "Error 410", "The request could not be answered (error 410)."),
        ("ru", "Ошибка 410", "На этот запрос нельзя ответить (ошибка 410)."),
    ],
)
def test_an_unlisted_http_error_has_a_translated_page(sqlite_app, lang, title, message):
    from flask import abort

    sqlite_app.add_url_rule("/gone-for-good", "gone_for_good", lambda: abort(410))
    response = sqlite_app.test_client().get(f"/gone-for-good?lang={lang}")
    assert response.status_code == 410
    page = text(response)
    assert f"<h1>{title}</h1>" in page and message in page
    assert "Gone" not in page
