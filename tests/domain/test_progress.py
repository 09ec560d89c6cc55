"""Progress rules (assessments/README.md, "rules") over literal referentials and records."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.progress import (
    BLOCK_STATES,
    COMPETENCY_STATES,
    STATE_ORDER,
    BlockDecision,
    EnrolmentProgress,
    EvidenceItem,
    HeldBlock,
    RatingEvent,
    ReflectionItem,
    compute_progress,
    map_to_version,
    observe_next,
    state_rank,
)
from backend.domain.referentials import (
    Block,
    Competency,
    Criterion,
    Evidence,
    Referential,
    Register,
    Rules,
)

D1, D2, D3, D4 = date(2024, 3, 11), date(2024, 3, 12), date(2024, 3, 13), date(2024, 3, 14)
TODAY = date(2024, 6, 1)


# Factories ------------------------------------------------------------------------------------


def standard_blocks() -> tuple[Block, ...]:
    return (
        Block(
            "BC01",
            "Préparer la réalisation d'un ouvrage métallique",
            (
                Competency(
                    "C1.1",
                    "Relever les cotes et contraintes sur site",
                    (
                        Criterion("C1.1.a", "Croquis coté complet et lisible", True),
                        Criterion("C1.1.b", "Contraintes d'accès signalées", False),
                    ),
                    (Evidence("document", "croquis coté", 1),),
                ),
            ),
        ),
        Block(
            "BC02",
            "Fabriquer en atelier",
            (
                Competency(
                    "C2.2",
                    "Assembler au gabarit et souder",
                    (
                        Criterion("C2.2.a", "Équerrage et diagonales conformes", True),
                        Criterion("C2.2.b", "Cordons réguliers sans défaut visible", True),
                        Criterion("C2.2.c", "Déformations maîtrisées", False),
                    ),
                    (Evidence("photo", "détail soudure", 1),),
                ),
            ),
        ),
        Block(
            "BC03",
            "Installer sur chantier",
            (
                Competency(
                    "C3.2",
                    "Implanter, fixer, régler",
                    (
                        Criterion("C3.2.a", "Aplomb, niveau, alignement", True),
                        Criterion("C3.2.b", "Réglages effectués", False),
                    ),
                    (Evidence("photo", "ouvrage posé", 1),),
                ),
            ),
        ),
    )


def referential(
    version: str = "2026-1",
    validity: int | None = 5,
    rules: Rules | None = None,
    blocks: tuple[Block, ...] | None = None,
) -> Referential:
    return Referential(
        code="CQP-FIOMB",
        version=version,
        title="Fabricant installateur d'ouvrages métalliques dans le bâtiment",
        branch="Artisanat du bâtiment",
        register=Register("transmitted"),
        block_validity_years=validity,
        rules=rules or Rules(),
        blocks=standard_blocks() if blocks is None else blocks,
    )


def rating(criterion: str, value: str, on: date, obs: str = "", hour: int = 12) -> RatingEvent:
    recorded = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return RatingEvent(obs or f"obs-{on.isoformat()}", on, recorded, criterion, value)


def met(criterion: str, on: date, obs: str = "") -> RatingEvent:
    return rating(criterion, "met", on, obs)


def bc01_ready() -> dict:
    """Records that make BC01 ready for the jury."""
    return {
        "ratings": [met("C1.1.a", D1), met("C1.1.a", D2)],
        "evidence": [EvidenceItem("ph-1", "C1.1", "croquis coté", "document")],
        "reflections": [ReflectionItem("refl-1", "BC01", D2)],
    }


def progress(
    ratings=(),
    evidence=(),
    reflections=(),
    held=(),
    decisions=(),
    ref: Referential | None = None,
    today: date = TODAY,
) -> EnrolmentProgress:
    return compute_progress(
        ref or referential(), ratings, evidence, reflections, held, decisions, today
    )


def criterion(p: EnrolmentProgress, code: str):
    return next(k for b in p.blocks for c in b.competencies for k in c.criteria if k.code == code)


def competency(p: EnrolmentProgress, code: str):
    return next(c for b in p.blocks for c in b.competencies if c.code == code)


def block(p: EnrolmentProgress, code: str):
    return next(b for b in p.blocks if b.code == code)


# Criteria -------------------------------------------------------------------------------------


def test_an_unrated_criterion_is_not_observed():
    k = criterion(progress(), "C1.1.a")
    assert (k.state, k.ratings_count, k.last_value, k.needed) == ("not_observed", 0, None, 2)
    assert k.reason == (
        "C1.1.a : jamais observé, 2 observations conformes requises sur 2 jours distincts"
    )


def test_met_on_two_distinct_days_acquires_the_criterion():
    k = criterion(progress([met("C1.1.a", D1), met("C1.1.a", D2)]), "C1.1.a")
    assert (k.state, k.met_count, k.met_days, k.needed) == ("acquired", 2, 2, 0)
    assert k.reason == (
        "C1.1.a : acquis (2 observations conformes sur 2 jours distincts, "
        "la dernière le 12/03/2024)"
    )


def test_two_mets_on_the_same_day_do_not_acquire_the_criterion():
    ratings = [met("C1.1.a", D1, "morning"), met("C1.1.a", D1, "afternoon")]
    k = criterion(progress(ratings), "C1.1.a")
    assert (k.state, k.met_count, k.met_days, k.needed) == ("progressing", 2, 1, 1)
    assert k.reason == "C1.1.a : 2 observations conformes sur 2, sur 1 jour distinct sur 2"


def test_two_ratings_in_one_observation_count_once():
    ratings = [met("C1.1.a", D1, "obs-1"), met("C1.1.a", D1, "obs-1"), met("C1.1.a", D2)]
    k = criterion(progress(ratings), "C1.1.a")
    assert (k.met_count, k.ratings_count) == (2, 2)


def test_a_latest_not_met_regresses_an_acquired_criterion():
    ratings = [met("C1.1.a", D1), met("C1.1.a", D2), rating("C1.1.a", "not_met", D3)]
    k = criterion(progress(ratings), "C1.1.a")
    assert (k.state, k.last_value, k.last_observed_on, k.needed) == ("regressed", "not_met", D3, 1)
    assert k.reason == (
        "C1.1.a : non acquis à la dernière observation, le 13/03/2024 ; "
        "2 observations conformes sur 2, sur 2 jours distincts sur 2"
    )


def test_a_met_dated_before_a_later_not_met_leaves_the_criterion_regressed():
    ratings = [rating("C1.1.a", "not_met", D3), met("C1.1.a", D1), met("C1.1.a", D2)]
    assert criterion(progress(ratings), "C1.1.a").state == "regressed"


def test_the_latest_rating_of_a_day_is_the_one_recorded_last():
    ratings = [
        rating("C1.1.a", "met", D1),
        rating("C1.1.a", "met", D2, "obs-late", hour=17),
        rating("C1.1.a", "not_met", D2, "obs-early", hour=8),
    ]
    assert criterion(progress(ratings), "C1.1.a").state == "acquired"


def test_a_latest_progressing_keeps_the_criterion_progressing_despite_enough_mets():
    ratings = [met("C1.1.a", D1), met("C1.1.a", D2), rating("C1.1.a", "progressing", D3)]
    k = criterion(progress(ratings), "C1.1.a")
    assert (k.state, k.needed) == ("progressing", 1)
    assert k.reason.startswith("C1.1.a : en cours à la dernière observation, le 13/03/2024 ; ")


def test_referential_rules_override_the_criterion_thresholds():
    ref = referential(rules=Rules(criterion_min_met=3, criterion_min_days=2))
    two = [met("C1.1.a", D1), met("C1.1.a", D2)]
    k = criterion(progress(two, ref=ref), "C1.1.a")
    assert (k.state, k.needed) == ("progressing", 1)
    assert k.reason == "C1.1.a : 2 observations conformes sur 3, sur 2 jours distincts sur 2"
    assert criterion(progress([*two, met("C1.1.a", D2, "again")], ref=ref), "C1.1.a").state == (
        "acquired"
    )


def test_ratings_of_criteria_the_referential_does_not_have_are_ignored():
    p = progress([met("C9.9.z", D1), met("C9.9.z", D2)])
    assert all(k.ratings_count == 0 for b in p.blocks for c in b.competencies for k in c.criteria)


def test_criterion_states_are_ranked_from_unobserved_to_acquired():
    ranks = [state_rank(s) for s in ("not_observed", "regressed", "progressing", "acquired")]
    assert ranks == sorted(ranks) == list(range(len(STATE_ORDER)))


# Competencies and evidence --------------------------------------------------------------------


def test_a_competency_with_nothing_rated_is_not_started():
    c = competency(progress(), "C2.2")
    assert c.state == "not_started"
    assert c.reason == "C2.2 : aucun critère observé ; photo « détail soudure » manquante"


def test_non_essential_criteria_do_not_block_the_competency():
    ratings = [met(code, day) for code in ("C2.2.a", "C2.2.b") for day in (D1, D2)]
    c = competency(progress(ratings), "C2.2")
    assert criterion(progress(ratings), "C2.2.c").state == "not_observed"
    assert (c.state, c.essential_acquired, c.essential_total) == ("acquired", 2, 2)
    assert (c.criteria_acquired, c.criteria_total) == (2, 3)


def test_a_competency_in_progress_names_the_essential_criteria_left():
    c = competency(progress([met("C2.2.a", D1), met("C2.2.a", D2)]), "C2.2")
    assert c.state == "in_progress"
    assert c.reason == (
        "C2.2 : 1 critère essentiel acquis sur 2 (à acquérir : C2.2.b) ; "
        "photo « détail soudure » manquante"
    )


def test_expected_evidence_counts_distinct_photos_against_its_minimum():
    blocks = standard_blocks()
    c11 = replace(blocks[0].competencies[0], evidence=(Evidence("photo", "support", 2),))
    ref = referential(blocks=(replace(blocks[0], competencies=(c11,)), *blocks[1:]))
    same_twice = [EvidenceItem("ph-1", "C1.1", "support", "photo")] * 2
    e = competency(progress(evidence=same_twice, ref=ref), "C1.1").evidence[0]
    assert (e.count, e.missing, e.photos) == (1, True, ("ph-1",))
    assert e.reason == "C1.1 : photo « support » : 1 reçue sur 2 requises"
    two = [*same_twice, EvidenceItem("ph-2", "C1.1", "support", "photo")]
    e = competency(progress(evidence=two, ref=ref), "C1.1").evidence[0]
    assert (e.count, e.missing) == (2, False)


# Blocks ---------------------------------------------------------------------------------------


def test_a_block_with_competencies_evidence_and_a_reflection_is_ready():
    b = block(progress(**bc01_ready()), "BC01")
    assert (b.state, b.ready, b.percent) == ("ready", True, 100)
    assert b.reason == "BC01 : prêt pour le jury"
    assert (b.competencies_acquired, b.criteria_acquired, b.criteria_total) == (1, 1, 2)


def test_a_missing_expected_photo_blocks_readiness_and_is_named():
    ratings = [met(code, day) for code in ("C2.2.a", "C2.2.b") for day in (D1, D2)]
    b = block(progress(ratings, reflections=[ReflectionItem("r", "BC02", D2)]), "BC02")
    assert (b.state, b.ready) == ("in_progress", False)
    assert b.reason == "BC02 : photo « détail soudure » manquante (C2.2)"
    assert competency(progress(ratings), "C2.2").evidence_missing == ("détail soudure",)


def test_a_reflection_is_required_for_readiness():
    records = bc01_ready()
    records["reflections"] = [ReflectionItem("refl-other", "BC02", D1)]
    b = block(progress(**records), "BC01")
    assert (b.state, b.reflections) == ("in_progress", 0)
    assert b.reason == "BC01 : 1 réflexion requise, aucune enregistrée"


def test_referential_rules_override_the_reflections_required():
    ref = referential(rules=Rules(block_min_reflections=2))
    b = block(progress(**bc01_ready(), ref=ref), "BC01")
    assert b.state == "in_progress"
    assert b.reason == "BC01 : 2 réflexions requises, 1 enregistrée"


def test_the_percent_counts_met_observations_evidence_and_reflections_still_due():
    # BC02 needs 2 essential criteria x 2 met observations + 1 photo + 1 reflection = 6 units.
    assert block(progress(), "BC02").percent == 0
    assert block(progress([met("C2.2.a", D1)]), "BC02").percent == 16
    ratings = [met("C2.2.a", D1), met("C2.2.a", D2)]
    photo = [EvidenceItem("ph-9", "C2.2", "détail soudure", "photo")]
    assert block(progress(ratings, evidence=photo), "BC02").percent == 50


def test_a_capitalised_block_is_held_until_its_expiry_day_included():
    held = [HeldBlock("BC01", date(2024, 3, 12), "2026-1")]
    b = block(progress(held=held, today=date(2029, 3, 12)), "BC01")
    assert (b.state, b.ready, b.percent) == ("held", False, 100)
    assert (b.decided_on, b.valid_until) == (date(2024, 3, 12), date(2029, 3, 12))
    assert b.reason == "BC01 : acquis le 12/03/2024, valable jusqu'au 12/03/2029"


def test_a_capitalised_block_falls_back_to_its_computed_state_after_expiry():
    held = [HeldBlock("BC01", date(2024, 3, 12), "2026-1")]
    b = block(progress(held=held, today=date(2029, 3, 13)), "BC01")
    assert b.state == "in_progress"
    assert b.reason.startswith("BC01 : capitalisation expirée le 12/03/2029 ; ")
    expired_but_ready = block(progress(**bc01_ready(), held=held, today=date(2030, 1, 1)), "BC01")
    assert expired_but_ready.state == "ready"


def test_a_capitalisation_from_29_february_ends_on_28_february():
    held = [HeldBlock("BC01", date(2024, 2, 29), "2026-1")]
    assert block(progress(held=held, today=date(2029, 2, 28)), "BC01").state == "held"
    b = block(progress(held=held, today=date(2029, 3, 1)), "BC01")
    assert (b.state, b.valid_until) == ("in_progress", date(2029, 2, 28))


def test_a_life_long_capitalisation_never_expires():
    held = [HeldBlock("BC01", date(2024, 3, 12), "2019-1")]
    b = block(progress(held=held, ref=referential(validity=None), today=date(2090, 1, 1)), "BC01")
    assert (b.state, b.valid_until) == ("held", None)
    assert b.reason == "BC01 : acquis le 12/03/2024 (version 2019-1), valable à vie"


def test_a_submitted_block_waits_for_the_jury_even_when_ready():
    decisions = [BlockDecision("BC01", "submitted", None)]
    b = block(progress(**bc01_ready(), decisions=decisions), "BC01")
    assert (b.state, b.ready, b.reason) == (
        "submitted",
        False,
        "BC01 : présenté au jury, décision en attente",
    )


def test_a_validated_decision_wins_over_the_computed_state():
    decisions = [BlockDecision("BC02", "validated", date(2024, 6, 10))]
    b = block(progress(decisions=decisions), "BC02")
    assert (b.state, b.ready, b.percent) == ("validated", False, 100)
    assert b.decided_on == date(2024, 6, 10)
    assert b.reason == "BC02 : validé par le jury le 10/06/2024"


def test_a_refused_block_is_ready_again_only_after_new_work():
    refused = [BlockDecision("BC01", "not_validated", D3)]
    b = block(progress(**bc01_ready(), decisions=refused), "BC01")
    assert (b.state, b.ready) == ("not_validated", False)
    assert b.reason == (
        "BC01 : non validé par le jury le 13/03/2024 ; "
        "une observation ou une réflexion postérieure à la décision est attendue"
    )
    records = bc01_ready()
    records["reflections"].append(ReflectionItem("refl-2", "BC01", D4))
    b = block(progress(**records, decisions=refused), "BC01")
    assert (b.state, b.ready) == ("not_validated", True)
    assert b.reason == "BC01 : non validé par le jury le 13/03/2024 ; peut être présenté de nouveau"


def test_a_refused_block_lists_what_it_lacks():
    refused = [BlockDecision("BC01", "not_validated", D1)]
    ratings = [met("C1.1.a", D1), met("C1.1.a", D2), rating("C1.1.a", "not_met", D3)]
    b = block(progress(ratings, decisions=refused), "BC01")
    assert (b.state, b.ready) == ("not_validated", False)
    assert b.reason == (
        "BC01 : non validé par le jury le 11/03/2024 ; "
        "0 compétence acquise sur 1 (à acquérir : C1.1) ; "
        "document « croquis coté » manquant (C1.1) ; 1 réflexion requise, aucune enregistrée"
    )


def test_the_latest_decision_of_a_block_stands():
    resubmitted = [
        BlockDecision("BC01", "submitted", None),
        BlockDecision("BC01", "not_validated", D1),
    ]
    assert block(progress(decisions=resubmitted), "BC01").state == "submitted"
    redecided = [
        BlockDecision("BC01", "validated", D2),
        BlockDecision("BC01", "not_validated", D1),
    ]
    assert block(progress(decisions=redecided), "BC01").state == "validated"


def test_the_certificate_is_complete_when_every_block_is_validated_or_held():
    held = [HeldBlock("BC01", date(2023, 1, 5), "2019-1")]
    decisions = [
        BlockDecision("BC02", "validated", D1),
        BlockDecision("BC03", "validated", D2),
    ]
    p = progress(held=held, decisions=decisions)
    assert (p.certificate_complete, p.blocks_done, p.blocks_total) == (True, 3, 3)
    assert p.reason == "CQP-FIOMB : certificat complet, 3 blocs sur 3 validés ou capitalisés"
    expired = progress(held=held, decisions=decisions, today=date(2028, 1, 6))
    assert not expired.certificate_complete
    assert expired.reason == "CQP-FIOMB : 2 blocs sur 3 validés ou capitalisés"


def test_the_enrolment_reason_names_the_blocks_to_send_to_the_jury():
    p = progress(**bc01_ready())
    assert p.reason == "CQP-FIOMB : 0 bloc sur 3 validé ou capitalisé ; à présenter au jury : BC01"


def test_every_state_comes_from_its_vocabulary_and_every_reason_names_its_code():
    p = progress(**bc01_ready(), decisions=[BlockDecision("BC03", "submitted", None)])
    for b in p.blocks:
        assert b.state in BLOCK_STATES and b.reason.startswith(f"{b.code} : ")
        for c in b.competencies:
            assert c.state in COMPETENCY_STATES and c.reason.startswith(f"{c.code} : ")
            for k in c.criteria:
                assert k.state in STATE_ORDER and k.reason.startswith(f"{k.code} : ")


@pytest.mark.parametrize(
    ("ratings", "decisions"),
    [
        ([rating("C1.1.a", "acquired", D1)], []),
        ([], [BlockDecision("BC01", "approved", D1)]),
        ([], [BlockDecision("BC01", "validated", None)]),
    ],
)
def test_unknown_values_and_undated_decisions_are_refused(ratings, decisions):
    with pytest.raises(ValueError):
        progress(ratings, decisions=decisions)


def test_to_dict_is_a_json_ready_tree_with_iso_dates():
    tree = progress(**bc01_ready(), held=[HeldBlock("BC03", D1, "2026-1")]).to_dict()
    assert json.loads(json.dumps(tree)) == tree
    assert tree["as_of"] == "2024-06-01"
    assert list(tree) == [
        "code", "version", "title", "as_of", "reason", "certificate_complete",
        "blocks_done", "blocks_total", "blocks",
    ]  # fmt: skip
    bc03 = tree["blocks"][2]
    assert (bc03["state"], bc03["decided_on"], bc03["valid_until"]) == (
        "held",
        "2024-03-11",
        "2029-03-11",
    )
    c11 = tree["blocks"][0]["competencies"][0]
    assert c11["criteria"][0]["last_observed_on"] == "2024-03-12"
    assert c11["evidence"][0] == {
        "kind": "document",
        "label": "croquis coté",
        "min": 1,
        "count": 1,
        "missing": False,
        "reason": "C1.1 : document « croquis coté » : 1 reçu sur 1 requis",
        "photos": ["ph-1"],
    }


# What to observe next -------------------------------------------------------------------------


def test_observe_next_puts_the_closest_criteria_first_and_essential_ones_before_others():
    ratings = [
        met("C1.1.b", D1),  # non-essential, 1 met observation to go
        met("C2.2.a", D1),  # regressed: its 2 mets count, 1 met observation to go
        met("C2.2.a", D2),
        rating("C2.2.a", "not_met", D3),
        met("C2.2.b", D1),  # essential, 1 to go
        met("C3.2.a", D1),  # in a block at the jury: not listed
    ]
    decisions = [BlockDecision("BC03", "submitted", None)]
    p = progress(ratings, decisions=decisions)
    assert [k.code for k in observe_next(p)] == ["C2.2.a", "C2.2.b", "C1.1.b", "C1.1.a", "C2.2.c"]
    assert [k.code for k in observe_next(p, limit=2)] == ["C2.2.a", "C2.2.b"]


def test_observe_next_skips_acquired_criteria_and_held_or_validated_blocks():
    p = progress(
        [met("C1.1.a", D1), met("C1.1.a", D2)],
        held=[HeldBlock("BC02", D1, "2026-1")],
        decisions=[BlockDecision("BC03", "validated", D2)],
    )
    assert [k.code for k in observe_next(p)] == ["C1.1.b"]
    with pytest.raises(ValueError):
        observe_next(p, limit=-1)


# Versions -------------------------------------------------------------------------------------


def second_version() -> Referential:
    """2027-1: C2.2.c renamed C2.2.d, C1.1.b removed, C2.3.a new, evidence reworded."""
    bc01, bc02, bc03 = standard_blocks()
    c11 = bc01.competencies[0]
    c11 = replace(c11, criteria=c11.criteria[:1], evidence=(Evidence("photo", "croquis coté", 1),))
    c22 = bc02.competencies[0]
    c22 = replace(
        c22,
        criteria=(*c22.criteria[:2], Criterion("C2.2.d", "Déformations maîtrisées", False)),
        evidence=(Evidence("photo", "cordon de soudure", 1),),
    )
    c23 = Competency("C2.3", "Intégrer la quincaillerie", (Criterion("C2.3.a", "Fermeture", True),))
    return referential(
        version="2027-1",
        blocks=(
            replace(bc01, competencies=(c11,)),
            replace(bc02, competencies=(c22, c23)),
            bc03,
        ),
    )


def test_version_mapping_carries_ratings_by_stable_criterion_code():
    ratings = [
        met("C1.1.a", D1),
        met("C1.1.a", D2),
        met("C1.1.b", D1),
        met("C2.2.c", D1),
        met("C3.2.a", D1),
    ]
    evidence = [
        EvidenceItem("ph-1", "C1.1", "croquis coté", "document"),
        EvidenceItem("ph-2", "C2.2", "détail soudure", "photo"),
    ]
    m = map_to_version(referential(), second_version(), ratings, evidence)
    assert m.mapped == ("C1.1.a", "C2.2.a", "C2.2.b", "C3.2.a", "C3.2.b")
    assert m.new == ("C2.2.d", "C2.3.a")
    assert m.removed == ("C1.1.b", "C2.2.c")
    assert m.ratings == (ratings[0], ratings[1], ratings[4])
    assert m.evidence == (EvidenceItem("ph-1", "C1.1", "croquis coté", "photo"),)
    assert m.summary() == (
        "CQP-FIOMB, version 2026-1 vers 2027-1 : 5 critères repris, "
        "2 nouveaux (C2.2.d, C2.3.a), 2 supprimés (C1.1.b, C2.2.c) ; "
        "3 notations reprises, 2 abandonnées ; 1 preuve reprise, 1 abandonnée"
    )
    carried = progress(m.ratings, m.evidence, ref=second_version())
    assert criterion(carried, "C1.1.a").state == "acquired"


def test_version_mapping_needs_the_same_certificate_in_another_version():
    with pytest.raises(ValueError, match="not the same certificate"):
        map_to_version(referential(), replace(second_version(), code="CQP-OTHER"), [], [])
    with pytest.raises(ValueError, match="different version"):
        map_to_version(referential(), referential(), [], [])


# Properties -----------------------------------------------------------------------------------

CRITERIA = sorted(referential().criterion_codes())
DAYS = st.dates(min_value=D1, max_value=D4)  # few days, so same-day ratings are frequent
# Few observation ids and hours, so ties on the "latest" key are exercised too.
OBSERVATIONS = st.sampled_from(["o1", "o2", "o3", "o4"])
ANY_VALUE = st.sampled_from(["met", "progressing", "not_met"])


@st.composite
def ratings_of(draw, values=ANY_VALUE) -> RatingEvent:
    on = draw(DAYS)
    hour = draw(st.integers(min_value=8, max_value=10))
    code = draw(st.sampled_from([*CRITERIA, "C9.9.z"]))
    return rating(code, draw(values), on, draw(OBSERVATIONS), hour)


EVIDENCE = st.lists(
    st.builds(
        EvidenceItem,
        st.sampled_from(["ph-1", "ph-2", "ph-3"]),
        st.sampled_from(["C1.1", "C2.2", "C3.2"]),
        st.sampled_from(["croquis coté", "détail soudure", "ouvrage posé"]),
        st.just("photo"),
    ),
    max_size=4,
)
REFLECTIONS = st.lists(
    st.builds(ReflectionItem, OBSERVATIONS, st.sampled_from(["BC01", "BC02", "BC03"]), DAYS),
    max_size=3,
)
# Capitalised between 2018 and 2024: some still valid on TODAY, some expired (5 years).
HELD = st.lists(
    st.builds(
        HeldBlock,
        st.sampled_from(["BC01", "BC02", "BC03"]),
        st.dates(min_value=date(2018, 1, 1), max_value=D4),
        st.sampled_from(["2019-1", "2026-1"]),
    ),
    max_size=3,
)
DECIDED = st.sampled_from(["BC01", "BC02"])
DECISIONS = st.lists(
    st.one_of(
        st.builds(BlockDecision, DECIDED, st.just("submitted"), st.none()),
        st.builds(BlockDecision, DECIDED, st.sampled_from(["validated", "not_validated"]), DAYS),
    ),
    max_size=3,
)


@settings(database=None, max_examples=300)
@given(
    ratings=st.lists(ratings_of(), max_size=14),
    evidence=EVIDENCE,
    reflections=REFLECTIONS,
    held=HELD,
    decisions=DECISIONS,
    data=st.data(),
)
def test_shuffling_the_records_never_changes_the_progress(
    ratings, evidence, reflections, held, decisions, data
):
    before = progress(ratings, evidence, reflections, held, decisions).to_dict()
    after = progress(
        data.draw(st.permutations(ratings)),
        data.draw(st.permutations(evidence)),
        data.draw(st.permutations(reflections)),
        data.draw(st.permutations(held)),
        data.draw(st.permutations(decisions)),
    ).to_dict()
    assert after == before


@settings(database=None, max_examples=300)
@given(
    ratings=st.lists(ratings_of(), max_size=14),
    extra=ratings_of(values=st.just("met")),
    evidence=EVIDENCE,
    reflections=REFLECTIONS,
    held=HELD,
    decisions=DECISIONS,
)
def test_adding_a_met_rating_never_lowers_any_state(
    ratings, extra, evidence, reflections, held, decisions
):
    """The exact property, with evidence, reflections, capitalisations and decisions fixed:

    for any ratings R and any met rating m (any criterion, day, hour, observation id, even
    one R already uses), under R + [m] each criterion's state_rank is >= and its `needed` <=
    its value under R; each competency's rank in COMPETENCY_STATES is >=; each block's percent
    is >= and a ready block stays ready.

    "Adding a met raises the criterion" would be false: a met dated before a later not_met
    leaves the criterion regressed (same rank), as does one tying an exact (day, hour,
    observation) with a not_met, since the least favourable value wins such a tie.
    """
    before = progress(ratings, evidence, reflections, held, decisions)
    after = progress([*ratings, extra], evidence, reflections, held, decisions)
    for b0, b1 in zip(before.blocks, after.blocks, strict=True):
        assert b1.percent >= b0.percent
        assert b1.ready or not b0.ready
        for c0, c1 in zip(b0.competencies, b1.competencies, strict=True):
            assert COMPETENCY_STATES.index(c1.state) >= COMPETENCY_STATES.index(c0.state)
            for k0, k1 in zip(c0.criteria, c1.criteria, strict=True):
                assert state_rank(k1.state) >= state_rank(k0.state)
                assert k1.needed <= k0.needed
