"""Loading, layering and validating the deadline rules files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tracker.deadlines.derive import derive
from tracker.deadlines.rules import DEFAULT_RULES_PATH, RuleError, Rules, load_rules
from tracker.events.record import Recorded


@pytest.fixture
def write(tmp_path: Path):
    """Return a factory that writes a TOML file under tmp_path and returns its path."""

    def write_file(text: str, name: str = "org.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


def decision(country: str, on: str, **data: str) -> Recorded:
    return Recorded(
        id="e1",
        case_id="case-1",
        version=1,
        type="asylum_decided",
        occurred_on=date.fromisoformat(on),
        date_precision="day",
        recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
        recorded_by="anna",
        data={"country": country, "outcome": "rejected", **data},
    )


# --------------------------------------------------------------------------- the default file


def test_default_rules_load() -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    assert rules.kinds == (
        "stay_expires",
        "stay_limit",
        "leave_by",
        "document_expires",
        "court_hearing",
        "asylum_interview",
        "asylum_appeal",
        "check_in",
        "reminder",
        "asylum_filing_window",
        "stay_unknown",
    )
    assert rules.lead_days("stay_expires") == (30, 14, 7, 3, 1, 0)
    assert rules.lead_days("stay_limit") == (30, 14, 7, 3, 1, 0)
    assert rules.lead_days("leave_by") == (7, 3, 1, 0)
    assert rules.lead_days("document_expires") == (90, 30, 7)
    assert rules.lead_days("court_hearing") == (14, 7, 1)
    assert rules.lead_days("asylum_interview") == (14, 3, 1)
    assert rules.lead_days("asylum_appeal") == (14, 7, 3, 1, 0)
    assert rules.lead_days("check_in") == (0,)
    assert rules.lead_days("reminder") == (7, 1, 0)
    assert rules.lead_days("asylum_filing_window") == (90, 30, 14, 7, 1, 0)
    assert rules.max_lead_days == 90
    assert rules.holidays == frozenset()


def test_the_default_path_is_the_checked_in_file() -> None:
    assert (
        Path(__file__).resolve().parents[1] / "tracker" / "defaults" / "deadlines.toml" == DEFAULT_RULES_PATH
    )
    assert DEFAULT_RULES_PATH.is_file()


def test_every_appeal_period_and_window_names_its_source() -> None:
    rules = load_rules(str(DEFAULT_RULES_PATH))
    assert {p.country for p in rules.appeal_periods} == {"FR", "DE", "US", "*"}
    assert all(len(p.source) > 10 for p in rules.appeal_periods)
    assert "1158" in rules.filing_windows["US"].source
    assert str(rules.filing_windows["US"].period) == "1 year"


# --------------------------------------------------------------------------- layering


def test_an_organization_file_changes_a_lead_time_and_adds_an_appeal_period(write) -> None:
    org = write(
        """
        [kinds.stay_expires]
        lead_days = [60, 30, 0]

        [[appeal_periods]]
        country = "IT"
        body = "tribunal"
        period = "30 days"
        roll_weekend = true
        source = "counsel's note of 2024-03-01"

        [[appeal_periods]]
        country = "IT"
        procedure = ["accelerated"]
        period = "15 days"
        source = "counsel's note of 2024-03-01"

        [filing_windows.US]
        period = "2 years"
        """
    )
    rules = load_rules([DEFAULT_RULES_PATH, org])
    assert rules.lead_days("stay_expires") == (60, 30, 0)
    assert rules.kind_rules["stay_expires"].sources == {"stay_permitted", "stay_extended"}
    assert rules.lead_days("reminder") == (7, 1, 0)
    assert rules.max_lead_days == 90
    assert rules.filing_windows["US"].source.startswith("8 U.S.C.")
    assert str(rules.filing_windows["US"].period) == "2 years"
    assert derive([decision("IT", "2023-06-01")], rules)[0].due_on == date(2023, 7, 3)  # Saturday -> Monday
    assert derive([decision("IT", "2023-06-01", procedure="accelerated")], rules)[0].due_on == date(
        2023, 6, 16
    )
    assert derive([decision("FR", "2023-01-31")], rules)[0].due_on == date(2023, 2, 28)


def test_a_later_file_replaces_all_entries_of_a_country(write) -> None:
    org = write('[[appeal_periods]]\ncountry = "DE"\nperiod = "3 weeks"\nsource = "test"\n')
    rules = load_rules([DEFAULT_RULES_PATH, org])
    assert [str(p.period) for p in rules.appeal_periods if p.country == "DE"] == ["3 weeks"]
    unfounded = decision("DE", "2023-06-07", procedure="manifestly_unfounded")
    assert derive([unfounded], rules)[0].due_on == date(2023, 6, 28)


def test_layered_holidays_add_up(write) -> None:
    first = write("[holidays]\ndates = [2024-01-01]\n", "a.toml")
    second = write('[holidays]\ndates = ["2024-12-25"]\nDE = [2024-10-03]\n', "b.toml")
    rules = load_rules([DEFAULT_RULES_PATH, first, second])
    assert rules.holidays == {date(2024, 1, 1), date(2024, 12, 25)}
    assert rules.holidays_for("DE") == {date(2024, 1, 1), date(2024, 12, 25), date(2024, 10, 3)}


def test_an_organization_can_add_a_whole_new_kind(write) -> None:
    org = write(
        """
        [kinds.travel_permit_expires]
        title = "Travel permit for {country} expires"
        sources = ["travel_permit_decided"]
        when = { outcome = ["granted"] }
        due_field = "valid_until"
        same = ["country"]
        superseded_by = ["travel_permit_decided"]
        lead_days = [30, 7]
        """
    )
    rules: Rules = load_rules([DEFAULT_RULES_PATH, org])
    event = Recorded(
        id="e1",
        case_id="case-1",
        version=1,
        type="travel_permit_decided",
        occurred_on=date(2024, 1, 5),
        date_precision="day",
        recorded_at=datetime(2024, 1, 5, tzinfo=UTC),
        recorded_by="anna",
        data={"country": "FR", "outcome": "granted", "valid_until": "2024-04-01"},
    )
    [d] = derive([event], rules)
    assert (d.kind, d.title, d.due_on, d.lead_days) == (
        "travel_permit_expires",
        "Travel permit for FR expires",
        date(2024, 4, 1),
        (30, 7),
    )


def test_an_override_may_switch_a_computed_due_date_to_a_field(write) -> None:
    org = write('[kinds.asylum_appeal]\ndue_field = "notified_on"\n')
    rules = load_rules([DEFAULT_RULES_PATH, org])
    assert (rules.kind_rules["asylum_appeal"].due_field, rules.kind_rules["asylum_appeal"].due_rule) == (
        "notified_on",
        None,
    )
    assert derive([decision("FR", "2023-01-31", notified_on="2023-02-03")], rules)[0].due_on == date(
        2023, 2, 3
    )


# --------------------------------------------------------------------------- bad files


BAD_OVERRIDES = [
    ("[holiday]\ndates = []\n", "org.toml: unknown section 'holiday'"),
    ("[kinds.stay_expires]\nlead_day = [1]\n", "org.toml: kinds.stay_expires: unknown key 'lead_day'"),
    ("[kinds.reminder]\nlead_days = [7, -1]\n", "kinds.reminder: lead_days cannot be negative"),
    ('[kinds.reminder]\nlead_days = ["7"]\n', "kinds.reminder: lead_days must be a list of whole numbers"),
    ("[kinds.reminder]\nlead_days = [1, 1]\n", "kinds.reminder: lead_days lists a day twice"),
    (
        "[kinds.stay_expire]\nlead_days = [1]\n",
        "kinds.stay_expire: unknown kind; a new kind also needs title",
    ),
    ("[kinds]\nreminder = 3\n", "kinds.reminder: must be a table"),
    (
        '[kinds.reminder]\ntitle = "Reminder for {pseudonym}"\n',
        "kinds.reminder: title may use only {country}",
    ),
    ('[kinds.reminder]\ndue_rule = "next_full_moon"\n', "kinds.reminder: due_rule must be one of"),
    (
        '[kinds.reminder]\ndue_field = "due"\ndue_rule = "appeal_period"\n',
        "kinds.reminder: give due_field or",
    ),
    (
        '[kinds.reminder]\ndue_rule = "after_last_contact"\n',
        "kinds.reminder: due_rule after_last_contact: 'every_days' is not a field of reminder_set",
    ),
    (
        "[kinds.check_in]\ncontacts = []\n",
        "kinds.check_in: due_rule after_last_contact needs contacts",
    ),
    (
        '[kinds.reminder]\nperiod = "5 days"\n',
        "kinds.reminder: period is only used with due_rule = stay_unknown",
    ),
    ('[kinds.stay_unknown]\nperiod = "soon"\n', "kinds.stay_unknown: period"),
    (
        '[kinds.stay_unknown]\nsources = ["stay_permitted"]\n',
        "kinds.stay_unknown: due_rule stay_unknown takes only border_crossed, fled_country, relocated",
    ),
    (
        '[kinds.stay_expires]\ndue_field = "valid_untill"\n',
        "kinds.stay_expires: due_field: 'valid_untill' is not",
    ),
    ('[kinds.stay_expires]\nsame = ["contry"]\n', "kinds.stay_expires: same: 'contry' is not a field"),
    (
        '[kinds.reminder]\ndue_field = "title"\n',
        "kinds.reminder: due_field: 'title' of reminder_set is not a date",
    ),
    (
        '[kinds.document_expires]\nwhen = { status = ["helt"] }\n',
        "kinds.document_expires: when.status: 'helt' is not a status of document_recorded",
    ),
    (
        '[kinds.reminder]\nmet_by = ["contact_made"]\nsame = ["title"]\n',
        "same: 'title' is not a field of contact_made",
    ),
    ("[kinds.stay_expires]\nsources = []\n", "kinds.stay_expires: sources must name at least one event type"),
    ('[kinds.stay_expires]\nsources = ["stay_permited"]\n', "sources: 'stay_permited' is not an event type"),
    (
        '[kinds.leave_by]\nresolved_by = ["case_closed"]\n',
        "kinds.leave_by: resolved_by: 'case_closed' is not",
    ),
    (
        '[[appeal_periods]]\ncountry = "DE"\nperiod = "2 fortnights"\nsource = "x"\n',
        "appeal_periods[1] (DE): period '2 fortnights': unit must be one of days, weeks, months, years",
    ),
    (
        '[[appeal_periods]]\ncountry = "DE"\nperiod = "-2 weeks"\nsource = "x"\n',
        "(DE): period '-2 weeks': the",
    ),
    ('[[appeal_periods]]\ncountry = "DE"\nperiod = 14\nsource = "x"\n', "(DE): period must be a number and"),
    ('[[appeal_periods]]\ncountry = "IT"\nperiod = "30 days"\n', "appeal_periods[1] (IT): missing source"),
    (
        '[[appeal_periods]]\ncountry = "fr"\nperiod = "1 month"\nsource = "x"\n',
        "(fr): country must be an ISO 3166-1 country code in capitals or \"*\", not 'fr'",
    ),
    (
        '[[appeal_periods]]\ncountry = "DE"\nprocedure = ["fast"]\nperiod = "1 week"\nsource = "x"\n',
        "appeal_periods[1] (DE): procedure must be one of normal, accelerated, manifestly_unfounded",
    ),
    (
        '[[appeal_periods]]\ncountry = "DE"\nperiod = "1 week"\nsource = "x"\nroll_weekend = "yes"\n',
        "(DE): roll_weekend must be true or false",
    ),
    (
        '[[appeal_periods]]\ncountry = "IT"\nperiod = "1 week"\nsource = "a"\n'
        '[[appeal_periods]]\ncountry = "IT"\nperiod = "2 weeks"\nsource = "b"\n',
        "appeal_periods[2] (IT): same country, procedure and outcome as appeal_periods[1]",
    ),
    (
        '[filing_windows.USA]\nperiod = "1 year"\nsource = "x"\n',
        "filing_windows.USA: the name must be an ISO 3166-1 country code in capitals, not 'USA'",
    ),
    ('[filing_windows.CA]\nsource = "x"\n', "filing_windows.CA: missing period"),
    ('[filing_windows.US]\nperiod = "1 yr"\n', "filing_windows.US: period '1 yr': unit must be one of"),
    (
        '[filing_windows.US]\nperiod = "999999999 days"\n',
        "filing_windows.US: period '999999999 days': at most 36500 days (100 years)",
    ),
    (
        '[[appeal_periods]]\ncountry = "*"\nperiod = "1201 months"\nsource = "x"\n',
        "appeal_periods[1] (*): period '1201 months': at most 1200 months (100 years)",
    ),
    ('[holidays]\ndates = ["2024-02-30"]\n', "holidays.dates[1]: '2024-02-30' is not a date (YYYY-MM-DD)"),
    ("[holidays]\ndates = [2024-01-01, 12]\n", "holidays.dates[2]: 12 is not a date"),
    (
        "[holidays]\ndates = [2024-01-01T10:00:00]\n",
        "holidays.dates[1]: datetime.datetime(2024, 1, 1, 10, 0)",
    ),
    ("[holidays]\nchristmas = [2024-12-25]\n", "holidays: unknown key 'christmas'"),
    ("[holidays]\nUK = [2024-12-25]\n", "holidays: unknown key 'UK' (expected dates, or a country code"),
    ("[holidays]\ndates = [2024-02-30]\n", "org.toml: not valid TOML: "),
    ("[kinds.reminder\n", "org.toml: not valid TOML: "),
]


@pytest.mark.parametrize(("text", "message"), BAD_OVERRIDES)
def test_a_bad_rules_file_names_the_entry_and_the_problem(write, text: str, message: str) -> None:
    path = write(text)
    with pytest.raises(RuleError) as caught:
        load_rules([DEFAULT_RULES_PATH, path])
    text_of = str(caught.value)
    assert message in text_of
    assert (
        Path(text_of.split(": ")[0]).resolve() == path.resolve()
    )  # shown relative to the cwd when inside it
    assert "\n" not in text_of


def test_a_base_file_with_an_incomplete_kind(write) -> None:
    path = write('[kinds.reminder]\ntitle = "{title}"\nsources = ["reminder_set"]\nlead_days = [1]\n')
    with pytest.raises(RuleError, match=r"org\.toml: kinds\.reminder: missing due_field or due_rule$"):
        load_rules(path)


def test_appeal_rules_need_a_default_for_other_countries(write) -> None:
    path = write(
        '[kinds.asylum_appeal]\ntitle = "Appeal"\nsources = ["asylum_decided"]\ndue_rule = "appeal_period"\n'
        'lead_days = [1]\n[[appeal_periods]]\ncountry = "FR"\nperiod = "1 month"\nsource = "x"\n'
    )
    with pytest.raises(RuleError, match=r'org\.toml: appeal_periods: needs an entry with country = "\*"'):
        load_rules(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"nowhere\.toml: cannot read the rules file"):
        load_rules([DEFAULT_RULES_PATH, tmp_path / "nowhere.toml"])


def test_no_file_at_all() -> None:
    with pytest.raises(RuleError, match="no deadline rules file given"):
        load_rules([])
