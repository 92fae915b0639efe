"""What people read instead of the catalogue's names: event types, fields, choices, roles, states."""

from __future__ import annotations

import re

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

TYPES = {
    "case_opened": _l("Case opened"),
    "contact_details_changed": _l("Contact details changed"),
    "caseworker_assigned": _l("Caseworker assigned"),
    "caseworker_unassigned": _l("Caseworker unassigned"),
    "note_added": _l("Note"),
    "related_person_recorded": _l("Related person recorded"),
    "service_recorded": _l("Military service"),
    "mobilization_order_received": _l("Mobilization order received"),
    "left_service": _l("Left the service"),
    "fled_country": _l("Fled the country"),
    "relocated": _l("Relocated"),
    "border_crossed": _l("Crossed a border"),
    "stay_permitted": _l("Stay permitted"),
    "stay_extended": _l("Stay extended"),
    "stay_ended": _l("Stay ended"),
    "removal_ordered": _l("Removal ordered"),
    "document_recorded": _l("Document recorded"),
    "criminal_case_opened": _l("Criminal case opened"),
    "charges_changed": _l("Charges changed"),
    "wanted_listed": _l("Put on a wanted list"),
    "court_hearing_scheduled": _l("Court hearing scheduled"),
    "verdict_issued": _l("Verdict issued"),
    "relatives_pressured": _l("Relatives pressured"),
    "extradition_requested": _l("Extradition requested"),
    "extradition_decided": _l("Extradition decided"),
    "detained": _l("Detained"),
    "released": _l("Released"),
    "asylum_applied": _l("Asylum applied for"),
    "asylum_interview_scheduled": _l("Asylum interview scheduled"),
    "asylum_decided": _l("Asylum decided"),
    "appeal_filed": _l("Appeal filed"),
    "appeal_decided": _l("Appeal decided"),
    "travel_permit_requested": _l("Travel permit requested"),
    "travel_permit_decided": _l("Travel permit decided"),
    "threat_reported": _l("Threat reported"),
    "risk_assessed": _l("Risk assessed"),
    "check_in_plan_set": _l("Check-in plan set"),
    "contact_made": _l("Contact made"),
    "lawyer_assigned": _l("Lawyer assigned"),
    "assistance_provided": _l("Assistance provided"),
    "referral_made": _l("Referral made"),
    "reminder_set": _l("Reminder set"),
    "follow_up_set": _l("Follow-up set"),
    "follow_up_done": _l("Follow-up done"),
    "follow_up_snoozed": _l("Follow-up snoozed"),
    "follow_up_reassigned": _l("Follow-up reassigned"),
    "deadline_resolved": _l("Deadline resolved"),
    "event_corrected": _l("Correction"),
    "event_retracted": _l("Retraction"),
    "case_closed": _l("Case closed"),
    "case_reopened": _l("Case reopened"),
    "personal_data_erased": _l("Personal data erased"),
    "attachment_added": _l("Document attached"),
}

GROUPS = {
    "intake": _l("Intake and identity"),
    "service": _l("Military service"),
    "movement": _l("Movement"),
    "stay": _l("Legal stay"),
    "documents": _l("Documents"),
    "prosecution": _l("Prosecution at home"),
    "detention": _l("Detention"),
    "protection": _l("Protection abroad"),
    "safety": _l("Safety and contact"),
    "support": _l("Support"),
    "closing": _l("Deadlines, corrections and closing"),
    "attachments": _l("Attachments"),
    "usual": _l("Your usual"),
}

#: The kinds the timeline filters by (tracker.services.timeline.KINDS).
KINDS = {
    "legal": _l("Legal"),
    "movement": _l("Movement"),
    "safety": _l("Safety"),
    "support": _l("Support"),
    "notes": _l("Notes and case"),
}

FIELDS = {
    "address": _l("Address"),
    "sha256": _l("SHA-256"),
    "media_type": _l("File type"),
    "size": _l("Size (bytes)"),
    "supports_event": _l("Supports the event"),
    "thumbnail": _l("Thumbnail"),
    "metadata_found": _l("Metadata found"),
    "amount": _l("Amount"),
    "article": _l("Article"),
    "authority": _l("Authority"),
    "birth_year": _l("Year of birth"),
    "body": _l("Appeal body"),
    "category": _l("Category"),
    "channel": _l("Channel"),
    "citizenship": _l("Citizenship"),
    "city": _l("City"),
    "claimed_identity": _l("Claimed to be"),
    "comment": _l("Comment"),
    "contact": _l("Contact"),
    "contact_channel": _l("Contact channel"),
    "contract_end": _l("Contract ends"),
    "country": _l("Country"),
    "court": _l("Court"),
    "criminal_case": _l("Criminal case"),
    "crossing_point": _l("Crossing point"),
    "currency": _l("Currency"),
    "data": _l("Corrected data"),
    "deadline_key": _l("Deadline"),
    "description": _l("Description"),
    "direction": _l("Direction"),
    "document_used": _l("Document used"),
    "due_on": _l("Due on"),
    "event_id": _l("Event"),
    "every_days": _l("Every (days)"),
    "follow_up": _l("Follow-up"),
    "from_country": _l("From country"),
    "grounds": _l("Grounds"),
    "hearing_on": _l("Hearing on"),
    "host_country": _l("Host country"),
    "how": _l("How"),
    "in_absentia": _l("In absentia"),
    "interview_on": _l("Interview on"),
    "kind": _l("Kind"),
    "leave_by": _l("Leave by"),
    "legal_name": _l("Legal name"),
    "level": _l("Level"),
    "made_by": _l("Who made it"),
    "max_sentence_years": _l("Maximum sentence (years)"),
    "messenger": _l("Messenger"),
    "name": _l("Name"),
    "notified_on": _l("Notified on"),
    "note": _l("Note"),
    "number": _l("Number"),
    "occurred_on": _l("New date"),
    "organization": _l("Organization"),
    "outcome": _l("Outcome"),
    "owner": _l("Owner"),
    "phone": _l("Phone"),
    "place": _l("Place"),
    "procedure": _l("Procedure"),
    "pseudonym": _l("Pseudonym"),
    "purpose": _l("Purpose"),
    "rank": _l("Rank"),
    "reason": _l("Reason"),
    "reasons": _l("Reasons"),
    "reference": _l("Reference"),
    "referral_source": _l("Referred by"),
    "registered_at_address": _l("Registered at this address"),
    "related_person": _l("Related person"),
    "relation": _l("Relation"),
    "requesting_country": _l("Requesting country"),
    "resolution": _l("Resolution"),
    "route": _l("Route"),
    "scope": _l("Scope"),
    "sentence_years": _l("Sentence (years)"),
    "status": _l("Status"),
    "text": _l("Text"),
    "title": _l("Title"),
    "to_country": _l("To country"),
    "unit": _l("Unit"),
    "until": _l("Snoozed until"),
    "username": _l("Caseworker"),
    "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until"),
    "who": _l("Who"),
}

#: Where a field name means something more precise in one event type.
FIELD_OVERRIDES = {
    ("attachment_added", "name"): _l("File name"),
    ("stay_permitted", "kind"): _l("Kind of stay"),
    ("document_recorded", "kind"): _l("Document"),
    ("document_recorded", "status"): _l("Document status"),
    ("service_recorded", "status"): _l("Service status"),
    ("relatives_pressured", "kind"): _l("What happened"),
    ("related_person_recorded", "country"): _l("Lives in (country)"),
    ("related_person_recorded", "city"): _l("Lives in (city)"),
    ("follow_up_set", "due_on"): _l("Due on"),
    ("follow_up_set", "deadline_key"): _l("Deadline it serves"),
    ("threat_reported", "kind"): _l("Kind of threat"),
    ("threat_reported", "channel"): _l("How it reached them"),
    ("assistance_provided", "kind"): _l("Kind of assistance"),
    ("lawyer_assigned", "name"): _l("Lawyer's name"),
    ("contact_details_changed", "reason"): _l("Why they changed"),
    ("case_closed", "outcome"): _l("Outcome of the case"),
}

CHOICES = {
    "abduction_attempt": _l("abduction attempt"),
    "accelerated": _l("accelerated"),
    "approach": _l("approach in person"),
    "asylum": _l("asylum"),
    "awol": _l("absent without leave"),
    "border": _l("at the border"),
    "cadet": _l("cadet"),
    "child": _l("child"),
    "calls": _l("calls"),
    "confiscated": _l("confiscated"),
    "conscript": _l("conscript"),
    "contract": _l("contract"),
    "court": _l("a court"),
    "critical": _l("critical"),
    "deceased": _l("deceased"),
    "deserted": _l("deserted"),
    "deserter": _l("deserter"),
    "detained": _l("detained"),
    "dismissed": _l("dismissed"),
    "embassy": _l("at an embassy"),
    "employment": _l("employment"),
    "entered": _l("entered the country"),
    "expired": _l("expired"),
    "family": _l("family"),
    "father": _l("father"),
    "foreign_police": _l("police of the host country"),
    "fsb": _l("FSB"),
    "funds": _l("funds"),
    "granted": _l("granted"),
    "held": _l("held"),
    "held_by_third_party": _l("held by a third party"),
    "high": _l("high"),
    "housing": _l("housing"),
    "humanitarian": _l("humanitarian"),
    "in_country": _l("in the country"),
    "in_person": _l("in person"),
    "inadmissible": _l("inadmissible"),
    "internal_passport": _l("internal passport"),
    "international_passport": _l("international passport"),
    "interpol": _l("Interpol"),
    "interstate": _l("interstate"),
    "left": _l("left the country"),
    "legal": _l("legal"),
    "letter": _l("letter"),
    "lost": _l("lost"),
    "lost_contact": _l("lost contact"),
    "low": _l("low"),
    "manifestly_unfounded": _l("manifestly unfounded"),
    "medical": _l("medical"),
    "medium": _l("medium"),
    "messenger": _l("messenger"),
    "met": _l("met"),
    "military_enlistment_office": _l("military enlistment office"),
    "military_id": _l("military ID"),
    "mobilization_evader": _l("mobilization evader"),
    "mobilized": _l("mobilized"),
    "mother": _l("mother"),
    "moot": _l("moot"),
    "national": _l("national"),
    "never_reported": _l("never reported"),
    "none": _l("none"),
    "normal": _l("normal"),
    "online": _l("online"),
    "partner": _l("partner"),
    "other": _l("other"),
    "permanent_residence": _l("permanent residence"),
    "phone_call": _l("phone call"),
    "police": _l("police"),
    "protection_granted": _l("protection granted"),
    "psychological": _l("psychological"),
    "questioned": _l("questioned"),
    "refugee_status": _l("refugee status"),
    "refused": _l("refused"),
    "refused_orders": _l("refused orders"),
    "registration": _l("registration"),
    "rejected": _l("rejected"),
    "relatives": _l("through relatives"),
    "resettled": _l("resettled"),
    "residence_card": _l("residence card"),
    "returned": _l("returned"),
    "revoked": _l("revoked"),
    "searched": _l("searched"),
    "sibling": _l("sibling"),
    "spouse": _l("spouse"),
    "subsidiary_protection": _l("subsidiary protection"),
    "surveillance": _l("surveillance"),
    "temporary_residence": _l("temporary residence"),
    "threatened": _l("threatened"),
    "travel": _l("travel"),
    "travel_permit": _l("travel permit"),
    "unknown": _l("unknown"),
    "visa_free": _l("visa-free"),
    "work": _l("work"),
    "wounded_evacuated": _l("wounded and evacuated"),
}

#: Words of the status object and the deadlines that are not catalogue choices.
WORDS = {
    "open": _l("open"),
    "closed": _l("closed"),
    "overdue": _l("overdue"),
    "resolved": _l("resolved"),
    "superseded": _l("superseded"),
    "applied": _l("applied"),
    "interview": _l("interview"),
    "decided": _l("decided"),
    "appeal": _l("appeal"),
    "final": _l("final"),
    "day": _l("day"),
    "month": _l("month"),
    "year": _l("year"),
    "web": _l("web"),
    "api": _l("API"),
    "import": _l("import"),
    "system": _l("system"),
    "cli": _l("command line"),
}

ROLES = {
    "caseworker": _l("caseworker"),
    "supervisor": _l("supervisor"),
    "auditor": _l("auditor"),
    "admin": _l("admin"),
}

DEADLINE_KINDS = {
    "stay_expires": _l("Legal stay expires"),
    "stay_limit": _l("Days of stay run out"),
    "leave_by": _l("Leave the country by"),
    "document_expires": _l("Document expires"),
    "court_hearing": _l("Court hearing"),
    "asylum_interview": _l("Asylum interview"),
    "asylum_appeal": _l("Asylum appeal deadline"),
    "check_in": _l("Check-in due"),
    "reminder": _l("Reminder"),
    "asylum_filing_window": _l("Asylum filing window closes"),
    "stay_unknown": _l("Legal stay to establish"),
}

AUDIT_ACTIONS = {
    "signin": _l("signed in"),
    "signin_failed": _l("failed sign-in"),
    "signout": _l("signed out"),
    "user_created": _l("user created"),
    "user_changed": _l("user changed"),
    "password_reset": _l("password changed"),
    "second_factor_enabled": _l("second factor turned on"),
    "second_factor_disabled": _l("second factor turned off"),
    "token_created": _l("API token created"),
    "token_revoked": _l("API token revoked"),
    "setting_changed": _l("setting changed"),
    "export": _l("export"),
    "erasure": _l("erasure"),
    "key_rotation": _l("key rotation"),
    "backup": _l("backup"),
    "restore": _l("restore"),
    "case_read": _l("case read"),
    "event_recorded": _l("event recorded"),
}

# What a read of a case was, as the access log keeps it ("page", "page as of 2023-01-05", ...).
ACCESS_ACTIONS = {
    "page": _l("case page"),
    "event form": _l("event form"),
    "audit": _l("audit view"),
    "status": _l("status"),
    "events": _l("events"),
    "deadlines": _l("deadlines"),
    "export": _l("export"),
    "stay plan": _l("stay plan"),
    "dossier": _l("dossier"),
}
_ACCESS_AS_OF = {
    "page": _l("case page as of %(day)s"),
    "status": _l("status as of %(day)s"),
}
_AS_OF = re.compile(r"(?P<what>[a-z ]+) as of (?P<day>\d{4}-\d\d-\d\d)")
#: A download names the attachment by the first 8 digits of its id (the log's action has 40 characters).
_FILE = re.compile(r"(?P<what>attachment|thumbnail) (?P<id>[0-9a-f]{8})")
_ACCESS_FILE = {"attachment": _l("attachment %(id)s"), "thumbnail": _l("thumbnail of attachment %(id)s")}

# How exact a date is, said on its own (WORDS' "day"/"month"/"year" complete "exact to the ...").
PRECISIONS = {
    "day": _l("exact day"),
    "month": _l("month only"),
    "year": _l("year only"),
}


def access_label(action: str) -> str:
    """An access-log entry's "what" in the current language (as it is when not known)."""
    label = ACCESS_ACTIONS.get(action)
    if label is not None:
        return str(label)
    match = _AS_OF.fullmatch(action)
    if match and match.group("what") in _ACCESS_AS_OF:
        return str(_ACCESS_AS_OF[match.group("what")]) % {"day": match.group("day")}
    match = _FILE.fullmatch(action)
    if match:
        return str(_ACCESS_FILE[match.group("what")]) % {"id": match.group("id")}
    return action


_TRANSLATED: dict[tuple[object, int], str] = {}


def _text(label: object) -> str:
    """A label of the tables above in the request's language; each is looked up once per language.

    A page shows a label for every field of every event: asking the catalogue each time costs more
    than the rest of the page. The labels live as long as the module, so their ids are stable.
    """
    if isinstance(label, str):
        return label
    key = (get_locale(), id(label))
    text = _TRANSLATED.get(key)
    if text is None:
        text = _TRANSLATED[key] = str(label)
    return text


def precision_label(precision: str) -> str:
    return _text(PRECISIONS.get(precision, precision))


def type_label(name: str) -> str:
    return _text(TYPES.get(name, name))


def field_label(type_name: str, name: str) -> str:
    label = FIELD_OVERRIDES.get((type_name, name))
    if label is None:
        label = FIELDS.get(name)
    return _text(label) if label is not None else name


_YES, _NO = _l("yes"), _l("no")


def choice_label(value: object) -> str:
    if isinstance(value, bool):
        return _text(_YES if value else _NO)
    text = str(value)
    # Not `a or b`: the truth of a lazy label is its translation.
    for table in (CHOICES, WORDS, ROLES):
        label = table.get(text)
        if label is not None:
            return _text(label)
    return text


def deadline_kind_label(kind: str) -> str:
    return _text(DEADLINE_KINDS.get(kind, kind))
