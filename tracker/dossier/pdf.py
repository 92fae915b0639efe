"""Rendering a dossier: the person, the facts in date order with their evidence, the status, and a
closing page that lets the copy be checked against the tracker later. PDF/A-2u, fonts embedded."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF

from tracker.events.catalogue import CATALOGUE
from tracker.resources import DOSSIER_FONTS
from tracker.services.dossier import Dossier, Fact
from tracker.services.timeline import Entry
from tracker.web import labels
from tracker.web.i18n import country_name, deadline_title, name_events, show_day, show_time, show_value

LANGS = ("en", "ru")
FONT = "DejaVu"


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4", enforce_compliance="PDF/A-2U")
        self.footer_text = footer_text
        self.add_font(FONT, "", str(DOSSIER_FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(DOSSIER_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def render(d: Dossier, lang: str = "en", list_corrections: bool = False) -> bytes:
    """The dossier as PDF bytes, in English or Russian."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}")
    with force_locale(lang):
        name_events([f.entry for f in d.facts])
        pdf = _Pdf(_("Case %(id)s, version %(version)s", id=d.case_id, version=d.version))
        pdf.set_title(_("Chronology of the case"))
        pdf.set_lang(lang)
        pdf.set_creator(f"tracker {version('tracker')}")
        pdf.set_creation_date(d.generated_at)
        pdf.add_page()
        _person(pdf, d)
        _status(pdf, d.status)
        _facts(pdf, d.facts)
        if list_corrections:
            _corrections(pdf, d.corrections)
        _closing(pdf, d)
        return bytes(pdf.output())


def _heading(pdf: _Pdf, text: str, size: int = 13) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT, "", 9.5)


def _line(pdf: _Pdf, text: str, bold: bool = False, indent: float = 0, size: float = 9.5) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")


def _pair(pdf: _Pdf, label: str, value: str, indent: float = 0) -> None:
    _line(pdf, f"{label}: {value}", indent=indent)


def _person(pdf: _Pdf, d: Dossier) -> None:
    _heading(pdf, _("Chronology of the case"), 16)
    _pair(pdf, _("Pseudonym"), d.pseudonym)
    if d.legal_name:
        _pair(pdf, _("Legal name"), d.legal_name)
    _pair(pdf, _("Case"), d.case_id)
    when = show_time(d.generated_at)
    _line(pdf, _("Made on %(when)s by %(user)s", when=when, user=d.generated_by))
    _line(
        pdf,
        _(
            "Dates are shown as precisely as they are known: a month or a year alone means that the day "
            "(or the month) is not known."
        ),
        size=8,
    )


def _status(pdf: _Pdf, s: dict[str, Any]) -> None:
    _heading(pdf, _("Current status"))
    state = labels.choice_label(s["state"]) if s.get("state") else "—"
    if s.get("closed_outcome"):
        state += f" ({labels.choice_label(s['closed_outcome'])})"
    where = country_name(s["country"]) if s.get("country") else "—"
    if s.get("city"):
        where += f", {s['city']}"
    lawyer = s.get("lawyer") or {}
    rows = [
        (_("State"), state),
        (_("Category"), labels.choice_label(s["category"]) if s.get("category") else "—"),
        (_("Citizenship"), country_name(s["citizenship"]) if s.get("citizenship") else "—"),
        (_("Where"), where),
        (_("Caseworkers"), ", ".join(s.get("caseworkers") or []) or "—"),
        (_("Lawyer"), str(lawyer.get("name") or "—")),
        (_("Detained"), labels.choice_label(bool(s.get("detained")))),
        (_("Risk level"), labels.choice_label(s["risk_level"]) if s.get("risk_level") else "—"),
    ]
    for label, value in rows:
        _pair(pdf, label, value)
    for deadline in s.get("deadlines") or []:
        _pair(pdf, _("Open deadline"), f"{deadline['due_on']}: {deadline_title(deadline['title'])}")


def _day(entry: Entry) -> str:
    return show_day(entry.effective_on, entry.date_precision)


def _facts(pdf: _Pdf, facts: list[Fact]) -> None:
    _heading(pdf, _("Facts in date order"))
    if not facts:
        _line(pdf, _("No facts are recorded."))
    for fact in facts:
        e = fact.entry
        pdf.ln(1.5)
        _line(pdf, f"{_day(e)} — {labels.type_label(e.type)}", bold=True, size=10)
        data = e.correction.data if e.correction and e.correction.data is not None else e.data
        if e.type == "attachment_added":
            _attachment(pdf, e)
        else:
            for name in _field_order(e.type, data):
                value = data[name]
                shown = show_value(e.type, name, value)
                _pair(pdf, labels.field_label(e.type, name), shown, indent=4)
        source = labels.choice_label(e.source) if e.source else "—"
        recorded = _("Source: %(source)s; recorded by %(user)s on %(when)s", source=source,
                     user=e.recorded_by, when=show_time(e.recorded_at))  # fmt: skip
        _line(pdf, recorded, indent=4, size=8)
        fix = e.correction
        if fix is not None:
            text = _("Corrected by %(user)s on %(when)s: %(reason)s", user=fix.recorded_by,
                     when=show_time(fix.recorded_at), reason=fix.reason or "—")  # fmt: skip
            _line(pdf, text, indent=4, size=8)
        for attachment in fact.attachments:
            _attachment(pdf, attachment)


def _field_order(type_name: str, data: dict[str, Any]) -> list[str]:
    """The payload's fields in the catalogue's order (the stored JSON has them sorted by name)."""
    declared = CATALOGUE[type_name].field_names if type_name in CATALOGUE else ()
    return [n for n in declared if n in data] + sorted(n for n in data if n not in declared)


def _attachment(pdf: _Pdf, a: Entry) -> None:
    name = show_value(a.type, "name", a.data.get("name", "—"))
    size = _("%(size)s bytes", size=a.data.get("size", "?"))
    _line(pdf, _("Attachment: %(name)s (%(type)s, %(size)s)", name=name, type=a.data.get("media_type", "?"),
                 size=size), indent=4)  # fmt: skip
    _line(pdf, f"SHA-256 {a.data.get('sha256', '')}", indent=8, size=7.5)


def _corrections(pdf: _Pdf, corrections: list[Entry]) -> None:
    _heading(pdf, _("Corrections and retractions"))
    if not corrections:
        _line(pdf, _("None."))
    for c in corrections:
        target = c.target
        what = (
            f"{labels.type_label(target.type)}, {show_day(target.occurred_on, target.date_precision)}"
            if target is not None
            else "?"
        )
        head = f"{show_time(c.recorded_at)} — {labels.type_label(c.type)}: {what}"
        _line(pdf, head, bold=True)
        _pair(pdf, _("Reason"), str(c.data.get("reason") or "—"), indent=4)
        _pair(pdf, _("Recorded by"), c.recorded_by, indent=4)


def _closing(pdf: _Pdf, d: Dossier) -> None:
    pdf.add_page()
    _heading(pdf, _("Checking this copy"))
    _line(
        pdf,
        _(
            "Every event of the case is chained to the one before it by a SHA-256 hash. The hash of the "
            "newest event (the head of the chain) covers the whole history up to it: the tracker can show "
            "that its record still ends in this hash, and so that nothing in this copy's history was "
            "changed since."
        ),
    )
    pdf.ln(2)
    _pair(pdf, _("Case"), d.case_id)
    _pair(pdf, _("Events in the chain"), str(d.version))
    _line(pdf, _("Head hash of the chain (SHA-256):"), bold=True)
    _line(pdf, d.head_hash, size=9)
    _checkpoint(pdf, d)
    pdf.ln(2)
    _line(pdf, _("Made on %(when)s by %(user)s", when=show_time(d.generated_at), user=d.generated_by))


def _checkpoint(pdf: _Pdf, d: Dossier) -> None:
    """The latest signed checkpoint, once the tracker has them (services.dossier.latest_checkpoint)."""
    if d.checkpoint:
        _line(pdf, _("Latest signed checkpoint:"), bold=True)
        _line(pdf, d.checkpoint, size=8)
