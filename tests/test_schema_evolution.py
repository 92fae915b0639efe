"""threat_reported version 2: events and corrections stored at version 1 read as version 2 everywhere."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import date
from typing import Any

from browser.webkit import post_form, sign_in, text
from conftest import add_event, open_case
from corekit import ADMIN

from tracker.events.catalogue import CATALOGUE, NESTED_VERSION, data_schema, upcast_payload
from tracker.projections.case_status import project
from tracker.services import integrity, transfer
from tracker.services.writing import metadata_text
from tracker.store.events import NewEvent, append, lock_for_append, read_streams
from tracker.store.hashing import canonical_json

V1_THREAT = {"kind": "calls"}


def append_as_stored_by_version_1(rt: Any, case_id: str, type_: str, on: str, data: dict[str, Any]) -> str:
    """An event written by the release before threat_reported version 2: schema_version 1, no nested
    version in a correction, the payload in the old shape."""
    event_id = str(uuid.uuid4())
    with rt.db.write() as session:
        lock_for_append(session)
        newest = read_streams(session, [case_id])[-1]
        new = NewEvent(
            event_id, type_, 1, date.fromisoformat(on), "day", canonical_json(data),
            metadata_text("api", None, None),
        )  # fmt: skip
        rows = append(session, case_id, newest.version, [new], "ada", rt.now(), newest.hash)
        rt.seal_appended(session, rows, [])  # as `tracker seal` seals the events of an older release
        project(session, case_id, rows, rt.rules, rt.today())
    return event_id


def test_the_catalogue_has_threat_reported_version_2_with_its_upcaster() -> None:
    threat = CATALOGUE["threat_reported"]
    assert threat.schema_version == 2
    assert {"made_by", "claimed_identity", "channel"} <= set(threat.field_names)
    assert "made_by" in threat.sensitive_fields
    schema = data_schema("threat_reported")["properties"]
    assert "fsb" in schema["claimed_identity"]["enum"] and "messenger" in schema["channel"]["enum"]
    assert upcast_payload("threat_reported", 1, {"kind": "calls"}) == {
        "kind": "calls",
        "claimed_identity": "unknown",
    }
    fix = {"event_id": "x", "reason": "r", "data": {"kind": "online"}}
    assert upcast_payload("event_corrected", 1, fix, "threat_reported")["data"] == {
        "kind": "online", "claimed_identity": "unknown",
    }  # fmt: skip


def test_version_1_threats_and_corrections_read_as_version_2_in_api_web_and_export(
    app: Any, api_for: Any
) -> None:
    rt = app.extensions["tracker"]
    api = api_for(app, "admin")
    case = open_case(api)
    old = append_as_stored_by_version_1(rt, case, "threat_reported", "2022-10-01", V1_THREAT)
    fixed = append_as_stored_by_version_1(rt, case, "threat_reported", "2022-10-05", V1_THREAT)
    append_as_stored_by_version_1(
        rt, case, "event_corrected", "2022-10-07",
        {"event_id": fixed, "reason": "it was online", "data": {"kind": "online"},
         "occurred_on": "2022-10-06"},
    )  # fmt: skip
    new = add_event(
        api, case, "threat_reported", "2022-11-01",
        {"kind": "approach", "made_by": "two men in uniform", "claimed_identity": "fsb",
         "channel": "in_person"},
    )["id"]  # fmt: skip

    events = {e["id"]: e for e in api.get(f"/cases/{case}/events").get_json()["events"]}
    assert events[old]["data"] == {"kind": "calls", "claimed_identity": "unknown"}
    assert events[old]["schema_version"] == 1  # as stored; the data is read at version 2
    correction = next(e for e in events.values() if e["type"] == "event_corrected")
    assert correction["data"]["data"] == {"kind": "online", "claimed_identity": "unknown"}
    assert NESTED_VERSION not in correction["data"]
    assert events[new]["data"]["made_by"] == "two men in uniform"
    # An auditor sees no sensitive field of either version.
    auditor = api_for(app, "auditor")
    seen = {e["id"]: e for e in auditor.get(f"/cases/{case}/events").get_json()["events"]}
    assert "made_by" not in seen[new]["data"] and seen[old]["data"]["claimed_identity"] == "unknown"
    # A correction written now records the version of its new payload.
    fix = {"event_id": new, "reason": "r", "data": {"kind": "approach", "channel": "relatives"}}
    add_event(api, case, "event_corrected", "2022-11-02", fix)
    with rt.db.read() as session:
        newest = read_streams(session, [case])[-1]
    assert json.loads(newest.data)[NESTED_VERSION] == 2
    # As of a day between the corrected threat's date and the next one: its corrected date counts.
    assert (
        api.get(f"/cases/{case}", as_of="2022-10-06").get_json()["status"]["last_threat_on"] == "2022-10-06"
    )
    assert (
        api.get(f"/cases/{case}", as_of="2022-10-05").get_json()["status"]["last_threat_on"] == "2022-10-01"
    )

    # The web page shows the old threats in the new shape, now and as of a past day.
    client = app.test_client()
    assert sign_in(client, api.username).status_code == 302
    for path in (f"/cases/{case}", f"/cases/{case}?as_of=2022-10-06"):
        page = text(client.get(path))
        assert "Claimed to be" in page and page.count(">unknown<") >= 1, path
    # The correction form of a version-1 threat offers the version-2 fields, filled as upcast.
    form = text(client.get(f"/cases/{case}/events/new?type=event_corrected&event_id={old}"))
    assert 'name="d-claimed_identity"' in form and 'name="d-channel"' in form
    assert re.search(r'<option value="unknown" selected', form)
    done = post_form(
        client, f"/cases/{case}/events/new",
        {"type": "event_corrected", "event_id": old, "d-kind": "calls", "d-claimed_identity": "police",
         "d-channel": "phone_call", "f-reason": "asked again"},
        page=f"/cases/{case}/events/new?type=event_corrected&event_id={old}",
    )  # fmt: skip
    assert done.status_code == 302
    events = {e["id"]: e for e in api.get(f"/cases/{case}/events").get_json()["events"]}
    last = max(events.values(), key=lambda e: e["version"])
    assert last["data"]["data"] == {"kind": "calls", "claimed_identity": "police", "channel": "phone_call"}

    # An export writes every payload at version 2; it imports back (the import checks version 2).
    out = io.StringIO()
    transfer.export_cases(rt, ADMIN, [case], out)
    line = json.loads(out.getvalue())
    threats = [e for e in line["events"] if e["type"] == "threat_reported"]
    assert [t["data"].get("claimed_identity") for t in threats] == ["unknown", "unknown", "fsb"]
    assert transfer.import_file(rt, io.StringIO(out.getvalue())) == (1, len(line["events"]) + 1)
    assert integrity.verify(rt)[1] == []
