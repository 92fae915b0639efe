"""Finding cases by what is known of the person, through the blind index, and rebuilding that index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.projections.search import CaseIndex, drop_cases, index_new_cases
from tracker.projections.tables import SearchTokenRow
from tracker.search.normalize import digest, digests, query_tokens
from tracker.services.runtime import Runtime
from tracker.store.events import case_ids, lock_for_append, read_streams


def matching_cases(rt: Runtime, actor: Actor, q: str) -> list[sa.Select[Any]]:
    """Queries of the ids of the cases whose indexed fields match `q` (to be united; none when `q` has
    no token).

    A case matches when it holds every word of the query (whole, or as the start of a word), or the
    query as one phone or document number. Auditors match on fields that are not sensitive only.
    Visibility of the cases is left to the caller.
    """
    every, any_of = query_tokens(q)
    if not every and not any_of:
        return []
    table = SearchTokenRow.__table__
    public = not actor.sees_sensitive
    parts: list[sa.Select[Any]] = []
    for key in rt.search_keys:  # after a key change, until the index is rebuilt, the old keys too
        if every:
            parts.append(_holding_all(table, [digest(key, t) for t in every], public))
        if any_of:
            one = sa.select(table.c.case_id).where(table.c.digest.in_(digests(key, any_of)))
            parts.append(one.where(table.c.sensitive.is_(False)) if public else one)
    return parts


def _holding_all(table: sa.Table, wanted: list[bytes], public: bool) -> sa.Select[Any]:
    """The cases holding every digest: candidates of the first, each checked for the others by key."""
    first = table.alias("first")
    query = sa.select(first.c.case_id).where(first.c.digest == wanted[0])
    for n, value in enumerate(wanted[1:]):
        other = table.alias(f"other{n}")
        found = sa.exists().where(other.c.digest == value, other.c.case_id == first.c.case_id)
        query = query.where(found.where(other.c.sensitive.is_(False)) if public else found)
    return query.where(first.c.sensitive.is_(False)) if public else query


def rebuild_index(rt: Runtime, session: Session, case_ids: Sequence[str]) -> None:
    """Drop and recompute the index rows of some cases (opening each case's key once)."""
    drop_cases(session, case_ids)
    streams: dict[str, list[tuple[str, str, int, str]]] = {c: [] for c in case_ids}
    for row in read_streams(session, case_ids):
        streams[row.case_id].append((row.id, row.type, row.schema_version, row.data))
    cases = [(CaseIndex(case, rt.case_key(session, case)), events) for case, events in streams.items()]
    index_new_cases(session, rt.search_key, cases)


def rebuild_search_index(rt: Runtime, chunk: int = 500) -> int:
    """Recompute the whole index under the current key, chunk by chunk; returns the number of cases."""
    with rt.db.read() as session:
        ids = case_ids(session)
    for start in range(0, len(ids), chunk):
        with rt.db.write() as session:
            lock_for_append(session)
            rebuild_index(rt, session, ids[start : start + chunk])
    return len(ids)
