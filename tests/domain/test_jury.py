"""The jury's pure rules over literal values: manifests and their hash, composition, conflicts,
decision input, outcomes; and the PDF renderer's refusal to fetch anything but stored photos."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from backend import documents
from backend.documents import PHOTO_SCHEME
from backend.domain import jury
from backend.domain.progress import HeldBlock
from backend.domain.referentials import (
    Block,
    Competency,
    Criterion,
    Evidence,
    JuryRules,
    Referential,
    Register,
    Rules,
)
from backend.errors import ValidationFailed
from backend.storage import LocalPhotoStore

D1, D2, D3 = date(2025, 3, 10), date(2025, 3, 12), date(2025, 3, 14)
TODAY = date(2025, 6, 1)
REF = Referential(
    code="CQP-T", version="1", title="Test", branch="B", register=Register("transmitted"),
    block_validity_years=5, rules=Rules(),
    blocks=(
        Block("BC01", "Préparer", (Competency("C1.1", "Relever", (
            Criterion("C1.1.a", "Croquis", True), Criterion("C1.1.b", "Accès", False)),
            (Evidence("photo", "support", 1),)),)),
        Block("BC02", "Fabriquer", (Competency("C2.1", "Souder", (
            Criterion("C2.1.a", "Cordons", True),)),)),
    ),
    digest="f" * 64)
P1, P2, P3 = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
              "33333333-3333-4333-8333-333333333333")


def row(oid: str, day: date, *, kind: str = "observation", ratings=None, photos=(),
        block: str | None = None, supersedes: str | None = None, role: str = "tutor") -> dict:
    return {"id": oid, "kind": kind, "author_id": 7, "author_role": role, "observed_on": day,
            "created_at": datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
            "block_code": block, "situation": f"situation {oid}", "place": "atelier",
            "comment": "", "ratings": ratings or {}, "photos": list(photos),
            "referential_version": "1", "content_sha256": oid * 4, "supersedes_id": supersedes}


def photo(pid: str) -> dict:
    return {"id": pid, "sha256": pid.replace("-", "")[:32] * 2, "thumb_sha256": "a" * 64,
            "size": 100, "thumb_size": 10, "width": 40, "height": 30,
            "content_type": "image/jpeg", "author_role": "tutor", "captured_at": None}


READY_ROWS = [
    row("o1", D1, ratings={"C1.1.a": "met", "C2.1.a": "met"},
        photos=[{"id": P1, "competency": "C1.1", "evidence": "support"},
                {"id": P2, "competency": "C2.1", "evidence": None}]),
    row("o2", D2, ratings={"C1.1.a": "met"}),
    row("r1", D3, kind="reflection", block="BC01", role="candidate"),
    row("o3", D3, ratings={"C2.1.a": "met"}),  # BC02 only
]


RECEIVED = (photo(P1), photo(P2))


def manifest(rows=READY_ROWS, photos=RECEIVED) -> dict:
    return jury.build_manifest(ref=REF, block_code="BC01",
                               enrolment={"id": 1, "candidate": 2, "company": 3},
                               observations=rows, photos=photos,
                               attestation={"person": 7, "name": "Tuteur", "role": "tutor",
                                            "at": "2025-03-15T08:00:00.000000+00:00"})


# The manifest -------------------------------------------------------------------------------


def test_the_manifest_keeps_the_blocks_rows_with_ratings_restricted_to_its_criteria():
    m = manifest()
    assert [o["id"] for o in m["observations"]] == ["o1", "o2", "r1"]
    assert m["observations"][0]["ratings"] == {"C1.1.a": "met"}
    assert m["observations"][0]["photos"] == [{"id": P1, "competency": "C1.1",
                                               "evidence": "support"}]
    assert [p["id"] for p in m["photos"]] == [P1]
    assert m["referential"] == {"code": "CQP-T", "version": "1", "digest": "f" * 64}
    assert m["attestation"]["statement"] == jury.ATTESTATION_TEXT


def test_the_hash_does_not_depend_on_the_order_rows_were_read_in():
    shuffled = READY_ROWS[:]
    random.Random(4).shuffle(shuffled)
    assert jury.sha256_of(manifest(shuffled)) == jury.sha256_of(manifest())


def test_the_manifest_survives_a_json_round_trip_with_the_same_hash():
    m = manifest()
    assert jury.sha256_of(json.loads(json.dumps(m))) == jury.sha256_of(m)


def test_canonical_json_refuses_values_that_are_not_plain_json():
    with pytest.raises(TypeError):
        jury.canonical_json({"day": D1})
    with pytest.raises(ValueError):
        jury.canonical_json({"x": float("nan")})


def test_superseded_rows_are_left_out_and_their_corrections_kept():
    rows = [*READY_ROWS, row("o4", D3, ratings={"C1.1.b": "not_met"}),
            row("o5", D3, ratings={"C1.1.b": "met"}, supersedes="o4")]
    ids = [o["id"] for o in manifest(rows)["observations"]]
    assert "o4" not in ids and "o5" in ids


def test_photos_cited_but_never_received_are_listed_apart():
    m = manifest(photos=())
    assert m["photos"] == [] and m["photos_not_received"] == [P1]


def test_a_changed_rating_changes_the_hash_and_the_diff_names_it():
    changed = [dict(r) for r in READY_ROWS]
    changed[1]["ratings"] = {"C1.1.a": "not_met"}
    stored, fresh = manifest(), manifest(changed)
    assert jury.sha256_of(stored) != jury.sha256_of(fresh)
    assert jury.diff_manifests(stored, fresh) == [
        'observation o2: ratings.C1.1.a changed (stored "met", rows give "not_met")']
    assert jury.diff_manifests(stored, manifest()) == []


def test_the_diff_names_rows_missing_on_either_side():
    stored, fresh = manifest(), manifest(READY_ROWS[1:])
    assert jury.diff_manifests(stored, fresh)[0] == (
        "observation o1: in the manifest, missing from the rows")
    assert "photo " + P1 + ": in the manifest, missing from the rows" in \
        jury.diff_manifests(stored, fresh)


def test_an_appeal_carries_the_original_manifest_and_its_hash():
    original = manifest()
    appeal = jury.appeal_manifest(original, dossier_id=4, manifest_sha256="9" * 64,
                                  grounds="Photo non vue", by={"person": 2}, at=datetime(
                                      2025, 4, 1, tzinfo=UTC))
    assert appeal["review_of"]["dossier"] == 4 and appeal["review_of"]["grounds"]
    assert jury.original_of(appeal) == original


def test_readiness_is_computed_from_the_frozen_evidence_alone():
    block = jury.manifest_progress(manifest(), REF, D3)
    assert block.ready and block.reason == "BC01 : prêt pour le jury"
    without_photo = jury.manifest_progress(manifest(photos=()), REF, D3)
    assert not without_photo.ready and "support" in without_photo.reason


def test_the_timeline_lists_each_criterions_ratings_oldest_first():
    timeline = jury.criteria_timeline(manifest())
    assert [(m.observed_on, m.value) for m in timeline["C1.1.a"]] == [
        ("2025-03-10", "met"), ("2025-03-12", "met")]


# Composition, conflicts, decisions ----------------------------------------------------------


@pytest.mark.parametrize(("members", "problems"), [
    ([("employer", True), ("employee", False)], []),
    ([("employer", True), ("employer", False)], ["Aucun membre du collège salariés."]),
    ([("employer", False), ("employee", False)], ["Aucun président désigné."]),
    ([("employer", True), ("employee", True)], ["Plusieurs présidents sont désignés."]),
])
def test_the_composition_rule(members, problems):
    assert jury.composition_problems(members) == problems


def test_the_presidency_alternates_between_the_colleges_from_session_to_session():
    members = [("employer", True), ("employee", False)]
    assert jury.composition_problems(members, previous_president_college="employee") == []
    problems = jury.composition_problems(members, previous_president_college="employer")
    assert len(problems) == 1 and "alterne" in problems[0]


def test_a_members_college_comes_from_what_they_represent():
    assert jury.college_of("employer_organisation") == "employer"
    assert jury.college_of("union") == "employee"
    assert jury.college_of("employee") is None  # a college is not a mandate


def test_a_dossier_needs_both_colleges_among_the_members_free_of_conflict():
    assert jury.deliberation_problems(["employer", "employee"]) == []
    assert jury.deliberation_problems(["employee", "employee"]) == [
        "Aucun membre du collège employeurs sans conflit d'intérêts."]


def test_conflicts_come_from_explicit_ties():
    assert jury.conflict_reason(candidate=True, tutors=True) == "le candidat lui-même"
    assert jury.conflict_reason(tutors=True, same_company=True) == "tuteur du candidat"
    assert jury.conflict_reason(represents=True) == "représentant de l'entreprise du candidat"
    assert jury.conflict_reason(same_company=True) == "même entreprise que le candidat"
    assert jury.conflict_reason(first_jury=True) == "membre du jury de la décision contestée"
    assert jury.conflict_reason() is None


# The jury deliberates: quorum, parity, majority, casting vote ---------------------------------

SEATS = [jury.Seat(1, "employer", True), jury.Seat(2, "employee", False),
         jury.Seat(3, "employer", False), jury.Seat(4, "employee", False),
         jury.Seat(5, "employee", False)]
PARITY = JuryRules()
V, N = "validated", "not_validated"


def problems_of(exc) -> list[str]:
    return exc.value.details.get("problems", [exc.value.message])


def test_a_single_member_cannot_decide_for_the_jury():
    with pytest.raises(ValidationFailed) as exc:
        jury.deliberate(SEATS, {}, {2: V}, PARITY)
    assert exc.value.code == "jury_quorum"
    assert any("Quorum" in p for p in problems_of(exc))


def test_the_jury_decides_by_a_majority_of_the_members_present():
    d = jury.deliberate(SEATS, {}, {1: V, 2: V, 3: V, 4: N}, PARITY)
    assert d.outcome == V
    assert d.record == [{"person": 1, "college": "employer", "president": True, "vote": V},
                        {"person": 2, "college": "employee", "president": False, "vote": V},
                        {"person": 3, "college": "employer", "president": False, "vote": V},
                        {"person": 4, "college": "employee", "president": False, "vote": N}]


def test_the_default_jury_is_paritaire_among_those_deciding_each_dossier():
    with pytest.raises(ValidationFailed) as exc:  # 1 employer against 3 employees
        jury.deliberate(SEATS, {}, {1: V, 2: V, 4: V, 5: V}, PARITY)
    assert any("non paritaire" in p for p in problems_of(exc))
    one_each = JuryRules(composition="one-per-college")
    assert jury.deliberate(SEATS, {}, {1: V, 2: V, 4: V}, one_each).outcome == V


def test_a_tie_decides_nothing_unless_the_rules_give_the_president_a_casting_vote():
    votes = {1: N, 2: V, 3: V, 4: N}
    with pytest.raises(ValidationFailed) as exc:
        jury.deliberate(SEATS, {}, votes, PARITY)
    assert exc.value.code == "no_majority"
    casting = JuryRules(casting_vote=True)
    assert jury.deliberate(SEATS, {}, votes, casting).outcome == N  # the president's vote


def test_a_two_thirds_majority_is_counted_on_the_votes_cast():
    rules = JuryRules(composition="one-per-college", majority="two_thirds")
    assert jury.deliberate(SEATS, {}, {1: V, 2: V, 4: N}, rules).outcome == V
    with pytest.raises(ValidationFailed):
        jury.deliberate(SEATS, {}, {1: V, 2: V, 3: N, 4: N, 5: V}, rules)


def test_a_conflicted_member_does_not_deliberate_and_is_recorded_as_excluded():
    with pytest.raises(ValidationFailed) as exc:
        jury.deliberate(SEATS, {3: "tuteur du candidat"}, {1: V, 2: V, 3: V, 4: V}, PARITY)
    assert exc.value.code == "invalid_deliberation"
    d = jury.deliberate(SEATS, {3: "tuteur du candidat"}, {1: V, 2: V}, PARITY)
    assert d.excluded == [{"person": 3, "reason": "tuteur du candidat"}]


def test_only_seated_members_vote():
    with pytest.raises(ValidationFailed):
        jury.deliberate(SEATS, {}, {1: V, 99: V}, PARITY)


def test_the_chair_is_the_president_or_when_conflicted_the_other_colleges_first_member():
    assert jury.chair(SEATS, {}) == 1
    assert jury.chair(SEATS, {1: "tuteur du candidat"}) == 2
    assert jury.chair([jury.Seat(2, "employee", False)], {}) is None


def test_the_rules_of_deliberation_come_from_the_referential():
    assert REF.jury == JuryRules()
    text = jury.rules_text(JuryRules(quorum=6, casting_vote=True))
    assert "au moins 6" in text and "voix prépondérante" in text


@dataclass
class Member:
    id: int
    college: str
    is_president: bool = False


def test_the_vice_president_comes_from_the_other_college():
    members = [Member(1, "employee"), Member(2, "employer", True), Member(3, "employee")]
    assert jury.vice_president(members).id == 1
    assert jury.vice_president([Member(1, "employer")]) is None


VOTES = {"1": "validated", "2": "validated"}


def test_reasons_are_required_for_both_outcomes_and_bad_values_are_refused():
    assert jury.parse_decision({"outcome": "not_validated", "reasons": " Manque C1.1 ",
                                "votes": VOTES}).reasons == "Manque C1.1"
    assert jury.parse_decision({"outcome": "validated", "reasons": "Solide",
                                "votes": VOTES}).votes == {1: "validated", 2: "validated"}
    for body in ({"outcome": "validated", "votes": VOTES},
                 {"outcome": "not_validated", "votes": VOTES},
                 {"outcome": "not_validated", "reasons": "  ", "votes": VOTES},
                 {"outcome": "yes", "reasons": "r", "votes": VOTES},
                 {"outcome": "validated", "reasons": 3, "votes": VOTES},
                 {"outcome": "validated", "reasons": "r", "recommendations": "x" * 5001,
                  "votes": VOTES},
                 {"outcome": "validated", "reasons": "r"},
                 {"outcome": "validated", "reasons": "r", "votes": {"x": "validated"}},
                 {"outcome": "validated", "reasons": "r", "votes": {"1": "maybe"}}):
        with pytest.raises(ValidationFailed):
            jury.parse_decision(body)
    with pytest.raises(ValidationFailed):
        jury.parse_grounds({"grounds": ""})


# Outcomes -----------------------------------------------------------------------------------


def final(did: int, block: str, outcome: str, day: date, **kw) -> jury.DossierRecord:
    return jury.DossierRecord(did, block, day, outcome, day, True, **kw)


def statuses(o: jury.Outcome) -> dict[str, str]:
    return {b.code: b.status for b in o.blocks}


def test_every_block_validated_delivers_the_certificate():
    o = jury.compute_outcome(REF, [], [final(1, "BC01", "validated", D1),
                                       final(2, "BC02", "validated", D2)], TODAY)
    assert o.kind == "certificate" and o.delivered_on == D2
    assert o.blocks[0].valid_until == date(2030, 3, 10)


def test_a_capitalised_block_still_valid_completes_the_certificate():
    held = [HeldBlock("BC01", date(2022, 1, 5), "0")]
    o = jury.compute_outcome(REF, held, [final(2, "BC02", "validated", D2)], TODAY)
    assert o.kind == "certificate" and statuses(o) == {"BC01": "held", "BC02": "validated"}
    assert o.blocks[0].valid_until == date(2027, 1, 5)


def test_a_partial_validation_lists_the_blocks_held_and_their_expiry():
    o = jury.compute_outcome(REF, [], [final(1, "BC01", "validated", D1),
                                       final(2, "BC02", "not_validated", D1,
                                             reasons="Cordons irréguliers",
                                             recommendations="Reprendre la soudure")], TODAY)
    assert o.kind == "partial"
    assert [(b.code, b.valid_until) for b in o.acquired] == [("BC01", date(2030, 3, 10))]
    refused = o.blocks[1]
    assert refused.status == "not_validated" and refused.recommendations
    assert "jusqu'au 10/03/2030" in o.blocks[0].reason


def test_an_expired_capitalisation_no_longer_counts():
    held = [HeldBlock("BC01", date(2019, 1, 5), "0")]
    o = jury.compute_outcome(REF, held, [final(2, "BC02", "validated", D2)], TODAY)
    assert o.kind == "partial" and statuses(o)["BC01"] == "expired"


def test_no_block_acquired_after_a_closed_session_is_not_delivered():
    o = jury.compute_outcome(REF, [], [final(1, "BC01", "not_validated", D1, reasons="r")],
                             TODAY)
    assert o.kind == "not_delivered" and not o.acquired


def test_decisions_are_final_only_once_their_session_is_closed():
    open_session = jury.DossierRecord(1, "BC01", D1, "validated", D1, False)
    o = jury.compute_outcome(REF, [], [open_session], TODAY)
    assert o.kind == "in_progress" and statuses(o)["BC01"] == "pending"


def test_a_pending_appeal_shows_the_block_back_at_the_jury():
    appeal = jury.DossierRecord(2, "BC01", D2, None, None, False, review_of=1)
    o = jury.compute_outcome(REF, [], [final(1, "BC01", "not_validated", D1, reasons="r"),
                                       appeal], TODAY)
    assert statuses(o)["BC01"] == "pending" and o.kind == "not_delivered"


def test_blocks_kept_for_life_have_no_expiry():
    ref = Referential(**{**REF.__dict__, "block_validity_years": None})
    o = jury.compute_outcome(ref, [], [final(1, "BC01", "validated", D1)], TODAY)
    assert o.blocks[0].valid_until is None and "à vie" in o.blocks[0].reason


# The PDF renderer's fetcher -----------------------------------------------------------------


def test_documents_load_stored_photos_and_nothing_else(tmp_path):
    store = LocalPhotoStore(tmp_path)
    sha = store.put(b"\xff\xd8 not really a jpeg")
    assert documents.load() is None
    fetcher = documents.store_fetcher(store)
    assert fetcher.fetch(f"{PHOTO_SCHEME}{sha}").read() == b"\xff\xd8 not really a jpeg"
    for url in ("http://example.test/x.png", "file:///etc/passwd", "data:,x",
                f"{PHOTO_SCHEME}../../etc/passwd"):
        with pytest.raises((ValueError, ValidationFailed)):
            fetcher.fetch(url)


def test_loading_the_pdf_renderer_leaves_pillow_refusing_truncated_images():
    from PIL import ImageFile

    assert documents.load() is None  # WeasyPrint turns the flag on when imported
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
