"""Sealed records: the differences named between the rows and what an audit event sealed."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.domain import jury, seals

AT = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def record(**changes):
    return {**seals.decision_record(dossier=4, manifest_sha256="a" * 64, outcome="validated",
                                    reasons="Bien", recommendations="", decided_by=7,
                                    decided_at=AT), **changes}


def test_an_intact_record_has_no_problem():
    r = record()
    assert seals.seal_problems("decision 1", r, stored=jury.sha256_of(r), event_id=9,
                               carried=jury.sha256_of(r), sealed=r) == []


def test_each_changed_field_is_named_with_both_values():
    sealed = record()
    problems = seals.seal_problems("decision 1", record(outcome="not_validated", reasons="Non"),
                                   stored=jury.sha256_of(sealed), event_id=9,
                                   carried=jury.sha256_of(sealed), sealed=sealed)
    assert problems[:2] == [
        "decision 1: outcome is 'not_validated' in the rows, 'validated' in audit event 9",
        "decision 1: reasons is 'Non' in the rows, 'Bien' in audit event 9"]
    assert any("the row records" in p for p in problems)
    assert any("audit event 9 records" in p for p in problems)


def test_nested_differences_are_named_by_path():
    rows = {"decisions": [{"outcome": "validated"}, {"outcome": "not_validated"}]}
    sealed = {"decisions": [{"outcome": "validated"}, {"outcome": "validated"}]}
    assert seals.differences("closing", rows, sealed, "audit event 3") == [
        "closing: decisions[1].outcome is 'not_validated' in the rows, 'validated' in audit "
        "event 3"]


def test_an_event_from_before_seals_checks_only_what_it_names():
    sealed = {"outcome": "validated", "decided_by": 7}
    assert seals.seal_problems("decision 1", record(reasons="Changed"), stored=None,
                               event_id=9, carried=None, sealed=sealed) == []
    assert seals.seal_problems("decision 1", record(decided_by=8), stored=None, event_id=9,
                               carried=None, sealed=sealed) == [
        "decision 1: decided_by is 8 in the rows, 7 in audit event 9"]
