"""Pure rules of the public catalogue: published figures and the contact form's checks."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.domain.catalogue import consent_wording, contact_problems, figures


def at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def test_a_holder_counts_in_the_year_of_the_last_block_validated():
    rows = [(1, "BC01", "validated", at(2025, 11)), (1, "BC02", "validated", at(2026, 2)),
            (2, "BC01", "validated", at(2025)), (2, "BC02", "not_validated", at(2025)),
            (3, "BC01", "validated", at(2025)), (3, "BC02", "validated", at(2025, 3)),
            (4, "BC09", "validated", at(2025))]  # a block of another version counts nothing
    found = figures(["BC01", "BC02"], rows)
    assert found.holders_per_year == {2025: 1, 2026: 1} and found.holders == 2
    assert (found.decisions, found.validated) == (7, 6)
    assert round(found.success_rate, 3) == round(6 / 7, 3)
    assert figures(["BC01"], []).success_rate is None


def test_the_contact_form_names_each_wrong_field():
    good = {"kind": "person", "full_name": "Léa", "email": "lea@example.test",
            "message": "Bonjour", "consent": "yes", "organisation": ""}
    assert contact_problems(good) == []
    assert contact_problems({**good, "email": "lea@", "consent": ""}) == ["email", "consent"]
    assert contact_problems({**good, "kind": "robot", "message": "x" * 4001}) == \
        ["kind", "message"]
    assert "12 mois" in consent_wording("CPNE du bâtiment")
    assert consent_wording("", lambda s: "%(branch)s keeps it %(months)s months") == \
        "la branche keeps it 12 months"
