"""What the loader hands the rules engine (pure part), the progress body, branch figures."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from backend.domain.progress import observe_next
from backend.domain.referentials import (
    Block,
    Competency,
    Criterion,
    Evidence,
    Referential,
    Register,
    Rules,
)
from backend.domain.standing import build_records, ready_on, version_figures
from backend.routes.progress import encode_progress

D1, D2, D3 = date(2024, 3, 11), date(2024, 3, 12), date(2024, 3, 20)
TODAY = date(2024, 6, 1)
AT = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
PHOTO, PHOTO2, MISSING = (f"00000000-0000-0000-0000-00000000000{i}" for i in (1, 2, 3))


def referential() -> Referential:
    weld = Competency("C2.2", "Assembler et souder",
                      (Criterion("C2.2.a", "Équerrage conforme", True),
                       Criterion("C2.2.b", "Cordons réguliers", False)),
                      (Evidence("photo", "détail soudure", 1),))
    return Referential(code="CQP-T", version="1", title="Test", branch="B",
                       register=Register("transmitted"), block_validity_years=5,
                       rules=Rules(), blocks=(Block("BC02", "Fabriquer", (weld,)),))


def row(oid: str, day: date, *, ratings=None, photos=(), kind="observation", role="tutor",
        block=None, supersedes=None, minutes=0) -> dict:
    return {"id": oid, "kind": kind, "author_role": role, "observed_on": day,
            "created_at": AT + timedelta(minutes=minutes), "ratings": ratings or {},
            "photos": list(photos), "block_code": block, "supersedes_id": supersedes}


def ref_photo(pid: str, evidence: str | None = "détail soudure") -> dict:
    return {"id": pid, "competency": "C2.2" if evidence else None, "evidence": evidence}


def test_a_superseded_observation_no_longer_counts_but_its_correction_does():
    records = build_records(referential(), [
        row("a", D1, ratings={"C2.2.a": "not_met"}),
        row("b", D1, ratings={"C2.2.a": "met"}, supersedes="a", minutes=5),
    ], [], [], [])
    assert [r.observation_id for r in records.ratings] == ["b"]
    assert [o["id"] for o in records.observations] == ["b"]


def test_ratings_count_only_from_production_observations_by_a_tutor():
    records = build_records(referential(), [
        row("a", D1, ratings={"C2.2.a": "met"}),
        row("b", D2, ratings={"C2.2.a": "met"}, role="candidate"),
    ], [], [], [])
    assert [r.observation_id for r in records.ratings] == ["a"]


def test_a_photo_counts_as_evidence_once_received_and_named_after_an_expected_item():
    records = build_records(referential(), [
        row("a", D2, photos=[ref_photo(PHOTO), ref_photo(PHOTO2, None), ref_photo(MISSING)]),
        row("b", D1, photos=[ref_photo(PHOTO)]),
    ], [(PHOTO, "candidate"), (PHOTO2, "tutor")], [], [])
    assert [(e.photo_id, e.kind, e.label) for e in records.evidence] == [
        (PHOTO, "photo", "détail soudure")] * 2
    assert records.received == {PHOTO, PHOTO2} and records.by_candidate == {PHOTO}
    assert records.photo_days == {PHOTO: D1}


def test_reflections_count_for_their_block_whoever_wrote_them():
    records = build_records(referential(), [
        row("a", D1, kind="reflection", block="BC02", role="candidate"),
        row("b", D2, kind="reflection", block="BC02"),
    ], [], [], [])
    assert sorted(r.observation_id for r in records.reflections) == ["a", "b"]
    assert records.ratings == ()


def test_a_dossier_without_decision_is_submitted_and_decisions_take_the_french_day():
    late = datetime(2024, 5, 2, 22, 30, tzinfo=UTC)  # already 3 May in Paris
    records = build_records(referential(), [], [], [("BC01", D1, "1")], [
        ("BC02", late, None, None), ("BC03", AT, "validated", late)])
    assert [(d.block, d.status, d.decided_on) for d in records.decisions] == [
        ("BC02", "submitted", None), ("BC03", "validated", date(2024, 5, 3))]
    assert records.first_submitted == {"BC02": date(2024, 5, 3), "BC03": D2}
    assert records.held[0].block == "BC01"


def test_the_timeline_is_newest_first():
    records = build_records(referential(), [
        row("a", D1), row("c", D2, minutes=1), row("b", D2)], [], [], [])
    assert [o["id"] for o in records.observations] == ["c", "b", "a"]


def ready_records():
    return build_records(referential(), [
        row("a", D1, ratings={"C2.2.a": "met"}),
        row("b", D2, ratings={"C2.2.a": "met"}, photos=[ref_photo(PHOTO)]),
        row("c", D3, kind="reflection", block="BC02", role="candidate"),
    ], [(PHOTO, "tutor")], [], [])


def test_a_block_is_ready_on_the_day_of_the_last_record_it_needed():
    ref, records = referential(), ready_records()
    block = records.progress(ref, TODAY).blocks[0]
    assert block.state == "ready" and ready_on(block, records, ref) == D3


def test_an_earlier_dossier_caps_the_estimated_ready_day():
    ref = referential()
    records = build_records(ref, [
        row("a", D1, ratings={"C2.2.a": "met"}),
        row("b", D2, ratings={"C2.2.a": "met"}, photos=[ref_photo(PHOTO)]),
        row("c", D2, kind="reflection", block="BC02"),
        row("d", D3, ratings={"C2.2.a": "met"}),  # after the submission
    ], [(PHOTO, "tutor")], [], [("BC02", AT, "validated", AT + timedelta(days=30))])
    block = records.progress(ref, TODAY).blocks[0]
    assert block.state == "validated" and ready_on(block, records, ref) == D2


def test_figures_count_states_and_criteria_never_observed_with_the_median_delay():
    ref = referential()
    empty = build_records(ref, [], [], [], [])
    figures = version_figures(ref, [(D1 - timedelta(days=10), ready_records()),
                                    (D1 - timedelta(days=30), ready_records()),
                                    (D1, empty)], TODAY)
    assert figures.enrolments == 3
    assert figures.blocks[0].by_state["ready"] == 2
    assert figures.blocks[0].by_state["in_progress"] == 1
    assert [k.code for k in figures.never_observed] == ["C2.2.b"]
    assert figures.median_days == (19 + 39) / 2 and figures.samples == 2


def test_the_progress_body_is_the_trees_dict_plus_the_enrolment_and_what_to_observe():
    ref = referential()
    tree = build_records(ref, [row("a", D1, ratings={"C2.2.a": "met"})], [], [], []).progress(
        ref, TODAY)
    enrolment = SimpleNamespace(id=7, revision=3)
    body = json.loads(encode_progress(tree, enrolment, observe_next(tree)))
    expected = tree.to_dict()
    expected.update(enrolment=7, revision=3, observe_next=[
        {**asdict(k), "last_observed_on": k.last_observed_on and k.last_observed_on.isoformat()}
        for k in observe_next(tree)])
    assert body == expected
    assert "observe_next" not in json.loads(encode_progress(tree, enrolment, None))
