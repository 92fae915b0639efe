"""Loading, layering and validating the stay rules files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker import create_app
from tracker.config import ConfigError
from tracker.stay.rules import DEFAULT_STAY_RULES_PATH, StayRuleError, load_stay_rules


@pytest.fixture
def write(tmp_path: Path):
    """Return a factory that writes a TOML file under tmp_path and returns its path."""

    def write_file(text: str, name: str = "org-stay.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


def test_the_defaults_choose_the_rule_by_country_and_citizenship() -> None:
    rules = load_stay_rules(DEFAULT_STAY_RULES_PATH)
    eaeu = rules.rule_for("KZ", "RU")
    assert eaeu is not None and eaeu.citizens == "EAEU"
    assert (eaeu.limits.window_max, eaeu.limits.window_days, eaeu.limits.max_per_stay) == (90, 180, None)
    other = rules.rule_for("KZ", "UZ")
    assert other is not None and (other.limits.max_per_stay, other.limits.window_max) == (30, 90)
    assert "temporary_residence" in other.paused_by
    schengen = rules.rule_for("FR", "RU")
    assert schengen is not None and schengen.host == "SCHENGEN" and "DE" in schengen.countries
    georgia = rules.rule_for("GE", "RU")
    assert georgia is not None and georgia.limits.max_per_stay == 365
    assert rules.rule_for("KZ", "KZ") is None  # a citizen is not counted at home
    assert rules.rule_for("FR", "DE") is None  # nor in the area of their own country
    assert rules.rule_for("US", "RU") is None  # no rule known


def test_every_default_rule_names_its_source_and_the_day_it_was_checked() -> None:
    rules = load_stay_rules(DEFAULT_STAY_RULES_PATH)
    assert {r.host for r in rules.rules} >= {"KZ", "SCHENGEN", "GE", "AM", "RS", "TR", "ME"}
    for rule in rules.rules:
        assert len(rule.source) > 20 and rule.checked.year >= 2023
    assert "confirm every rule it relies on with its counsel" in DEFAULT_STAY_RULES_PATH.read_text()


def test_an_organization_file_replaces_a_rule_and_adds_a_country(write) -> None:
    org = write(
        '[groups]\nCIS = ["RU", "BY", "UZ"]\n'
        '[[rules]]\nhost = "KZ"\ncitizens = "EAEU"\nwindow = "60 in 180"\nsource = "counsel, 2026"\n'
        "checked = 2026-12-01\n"
        '[[rules]]\nhost = "UZ"\ncitizens = "CIS"\nmax_per_stay = 60\nsource = "counsel"\n'
        "checked = 2026-12-01\n"
    )
    rules = load_stay_rules([DEFAULT_STAY_RULES_PATH, org])
    kz = rules.rule_for("KZ", "RU")
    assert kz is not None and kz.limits.window_max == 60 and kz.source == "counsel, 2026"
    assert len([r for r in rules.rules if r.host == "KZ"]) == 2
    uz = rules.rule_for("UZ", "RU")
    assert uz is not None and uz.limits.max_per_stay == 60


def test_a_rule_that_names_the_default_kind_or_its_citizens_in_another_order_replaces_the_same_rule(
    write,
) -> None:
    base = write(
        '[[rules]]\nhost = "KG"\ncitizens = ["RU", "BY"]\nwindow = "90 in 180"\nsource = "s"\n'
        "checked = 2026-12-01\n",
        "base-stay.toml",
    )
    org = write(
        '[[rules]]\nhost = "KG"\ncitizens = ["BY", "RU"]\nstay_kind = "visa_free"\nwindow = "60 in 180"\n'
        'source = "counsel"\nchecked = 2026-12-01\n'
    )
    rules = load_stay_rules([DEFAULT_STAY_RULES_PATH, base, org])
    kg = [r for r in rules.rules if r.host == "KG"]
    assert len(kg) == 1 and kg[0].limits.window_max == 60 and kg[0].source == "counsel"


SOURCE = "source = 's'\nchecked = 2024-01-01\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rules]]\nhost = 'KZ'\n", "org-stay.toml: rules[1] (KZ): missing citizens, source, checked"),
        (
            "[[rules]]\nhost = 'XX'\ncitizens = 'visa_free'\nwindow = '90 in 180'\nsource = 's'\n"
            "checked = 2024-01-01\n",
            "org-stay.toml: rules[1] (XX): host must be a country code in capitals or an area of [areas]",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'visa_free'\nwindow = '90 per 180'\nsource = 's'\n"
            "checked = 2024-01-01\n",
            "org-stay.toml: rules[1] (KZ): window must be written like \"90 in 180\", not '90 per 180'",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'EEU'\nwindow = '90 in 180'\n" + SOURCE,
            "org-stay.toml: rules[1] (KZ): citizens must be visa_free, a group of [groups]",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'visa_free'\nsource = 's'\nchecked = 2024-01-01\n",
            "org-stay.toml: rules[1] (KZ): needs at least one limit",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'visa_free'\nyearly = 400\n" + SOURCE,
            "org-stay.toml: rules[1] (KZ): yearly must be a whole number of days from 1 to 366, not 400",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'visa_free'\nyearly = 90\nsource = 's'\nchecked = '2024'\n",
            "org-stay.toml: rules[1] (KZ): checked must be a date written YYYY-MM-DD",
        ),
        (
            "[[rules]]\nhost = 'KZ'\ncitizens = 'visa_free'\nyearly = 90\npaused_by = ['visa']\n"
            "source = 's'\nchecked = 2024-01-01\n",
            "org-stay.toml: rules[1] (KZ): paused_by must be a list of stay kinds",
        ),
        ("[areas]\nEU = ['FR', 'XX']\n", "org-stay.toml: areas.EU: must be a list of country codes"),
        ("[limits]\n", "org-stay.toml: unknown section 'limits'"),
        ("rules = [", "org-stay.toml: not valid TOML"),
    ],
)
def test_a_bad_file_names_the_entry_and_the_problem(write, text: str, message: str) -> None:
    path = write(text)
    with pytest.raises(StayRuleError) as caught:
        load_stay_rules([DEFAULT_STAY_RULES_PATH, path])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_application_reads_the_stay_rules_setting(write, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))
    bad = write("[[rules]]\nhost = 'KZ'\n")
    with pytest.raises(ConfigError, match="rules\\[1\\] \\(KZ\\): missing citizens"):
        create_app({"STAY_RULES": str(bad), "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"})
    good = write(
        '[[rules]]\nhost = "UZ"\ncitizens = ["RU"]\nmax_per_stay = 15\nsource = "s"\nchecked = 2026-01-01\n',
        "good.toml",
    )
    app = create_app({"STAY_RULES": str(good), "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"})
    rule = app.extensions["tracker"].rules.stay.rule_for("UZ", "RU")
    assert rule is not None and rule.limits.max_per_stay == 15
