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


@pytest.mark.parametrize(("members", "rule", "problems"), [
    ([("employer", True), ("employee", False)], "one-per-college", []),
    ([("employer", True), ("employer", False)], "one-per-college",
     ["Aucun membre du collège salariés."]),
    ([("employer", False), ("employee", False)], "one-per-college",
     ["Aucun président désigné."]),
    ([("employer", True), ("employee", True)], "one-per-college",
     ["Plusieurs présidents sont désignés."]),
    ([("employer", True), ("employee", False), ("employee", False)], "parity",
     ["Composition non paritaire (1 au collège employeurs, 2 au collège salariés)."]),
    ([("employer", True), ("employee", False)], "by-lot", ["Règle de composition inconnue : "
                                                           "by-lot."]),
])
def test_the_composition_rule(members, rule, problems):
    assert jury.composition_problems(members, rule) == problems


def test_a_dossier_needs_both_colleges_among_the_members_free_of_conflict():
    assert jury.deliberation_problems(["employer", "employee"]) == []
    assert jury.deliberation_problems(["employee"]) == [
        "Aucun membre du collège employeurs sans conflit d'intérêts."]


def test_the_tutor_and_colleagues_of_the_candidate_are_in_conflict():
    assert jury.conflict_reason(tutors=True, same_company=True) == "tuteur du candidat"
    assert jury.conflict_reason(tutors=False, same_company=True) == (
        "même entreprise que le candidat")
    assert jury.conflict_reason(tutors=False, same_company=False) is None


@dataclass
class Member:
    id: int
    college: str
    is_president: bool = False


def test_the_vice_president_comes_from_the_other_college():
    members = [Member(1, "employee"), Member(2, "employer", True), Member(3, "employee")]
    assert jury.vice_president(members).id == 1
    assert jury.vice_president([Member(1, "employer")]) is None


def test_a_refusal_must_state_its_reasons_and_bad_values_are_refused():
    assert jury.parse_decision({"outcome": "validated"}).reasons == ""
    assert jury.parse_decision({"outcome": "not_validated", "reasons": " Manque C1.1 "}
                               ).reasons == "Manque C1.1"
    for body in ({"outcome": "not_validated"}, {"outcome": "not_validated", "reasons": "  "},
                 {"outcome": "yes"}, {"outcome": "validated", "reasons": 3},
                 {"outcome": "validated", "recommendations": "x" * 5001}):
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
