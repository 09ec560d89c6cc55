"""What a decision and an appeal attest, and how a sealed record is checked.

A sealed record is the canonical JSON of the stored fields of a row: its sha256 is stored on
the row and carried, with the record itself, by the audit event written in the same
transaction. The event is in the keyed audit chain, so someone who edits a row (and even
recomputes the row's hash) leaves a record that no longer matches its event. The closing of
a jury session is sealed the same way by its minutes (`dossiers.minutes_record`).

Pure: plain values in, messages (English, for operators running `carnet dossier verify`) out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backend.domain.jury import instant, sha256_of


def decision_record(*, dossier: int, manifest_sha256: str, outcome: str, reasons: str,
                    recommendations: str, decided_by: int, decided_at: datetime,
                    deliberation: Any = None, excluded: Any = None) -> dict[str, Any]:
    """What the jury decided, on which frozen manifest, who entered it and when, and who
    deliberated with their votes and who was excluded for a conflict of interest (absent from
    the records of decisions made before juries voted, so their hashes still verify)."""
    record = {"dossier": dossier, "manifest_sha256": manifest_sha256, "outcome": outcome,
              "reasons": reasons, "recommendations": recommendations, "decided_by": decided_by,
              "decided_at": instant(decided_at)}
    if deliberation is not None or excluded is not None:
        record.update(deliberation=deliberation, excluded=excluded)
    return record


def appeal_record(*, dossier: int, review_of: int, reviewed_decision_sha256: str,
                  enrolment: int, block: str, manifest_sha256: str, by: int,
                  at: datetime) -> dict[str, Any]:
    """Which decision is appealed, by whom and when; the grounds are in the manifest."""
    return {"dossier": dossier, "review_of": review_of,
            "reviewed_decision_sha256": reviewed_decision_sha256, "enrolment": enrolment,
            "block": block, "manifest_sha256": manifest_sha256, "by": by, "at": instant(at)}


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def differences(what: str, rows: Any, sealed: Any, source: str, path: str = "") -> list[str]:
    """Fields whose value in the rows differs from the sealed one, by path. Only the sealed
    keys count: an event from before a field was sealed names fewer."""
    if isinstance(sealed, Mapping) and isinstance(rows, Mapping):
        return [p for key in sorted(sealed) for p in differences(
            what, rows.get(key), sealed[key], source, f"{path}.{key}" if path else key)]
    if isinstance(sealed, list) and isinstance(rows, list) and len(sealed) == len(rows):
        return [p for i, (r, s) in enumerate(zip(rows, sealed, strict=True))
                for p in differences(what, r, s, source, f"{path}[{i}]")]
    if rows != sealed:
        return [f"{what}: {path or 'record'} is {_short(rows)} in the rows, "
                f"{_short(sealed)} in {source}"]
    return []


def seal_problems(what: str, record: Mapping[str, Any], *, stored: str | None,
                  event_id: int, carried: str | None, sealed: Any) -> list[str]:
    """Everything that disagrees between a record recomputed from the rows, the hash stored on
    its row, and what its audit event carries (`carried` hash, `sealed` record or the part of
    it an older event names)."""
    source = f"audit event {event_id}"
    digest = sha256_of(record)
    problems = differences(what, record, sealed, source) if sealed is not None else []
    if stored is not None and stored != digest:
        problems.append(f"{what}: its fields hash to {digest}, the row records {stored}")
    if carried is not None and carried != digest:
        problems.append(f"{what}: its fields hash to {digest}, {source} records {carried}")
    if stored is None and carried is not None:
        problems.append(f"{what}: no hash on the row, {source} records {carried}")
    return problems
