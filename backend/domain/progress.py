"""Progress of an enrolment towards its certificate, with the reason for every state.

Pure: plain records in, frozen dataclasses out; no ORM, no await, no I/O. The rules are
those of assessments/README.md ("rules"), with the thresholds of the enrolment's
referential. The result never depends on the order of the inputs: every "latest" is a
maximum over a total key.

Records naming a criterion, competency, evidence label or block that the referential does not
have are ignored: they belong to another version, which `map_to_version` carries over
explicitly. Reasons are French because the candidate and the tutor read them as they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple

from backend.domain.referentials import Block, Competency, Criterion, Evidence, Referential, Rules

RATING_VALUES = ("met", "progressing", "not_met")
DECISION_STATUSES = ("submitted", "validated", "not_validated")

# Criterion states from furthest to closest to acquisition. `regressed` ranks above
# `not_observed` because its earlier met observations still count: it never needs more new met
# observations than an unobserved criterion (see `_needed`). Adding a met rating never moves a
# criterion down this order (the property test checks it); adding it before a later not_met
# leaves the criterion regressed, so "never lowers" holds where "always raises" would not.
STATE_ORDER = ("not_observed", "regressed", "progressing", "acquired")
COMPETENCY_STATES = ("not_started", "in_progress", "acquired")
BLOCK_STATES = ("in_progress", "ready", "submitted", "not_validated", "validated", "held")

# Exact ties on (day, recording time, observation) are contradictory ratings of one
# observation; the least favourable wins so that a contradiction never acquires a criterion.
_TIE_RANK = {"met": 0, "progressing": 1, "not_met": 2}
# Blocks the candidate has nothing more to prove for, or that are in the jury's hands.
_SETTLED = ("held", "validated", "submitted")
# Grammatical agreement of the evidence kinds (photo is feminine, document masculine):
# singular and plural of "received", singular and plural of "required", then "missing".
_EVIDENCE_WORDS = {
    "photo": ("reçue", "reçues", "requise", "requises", "manquante"),
    "document": ("reçu", "reçus", "requis", "requis", "manquant"),
}


def state_rank(state: str) -> int:
    """Position of a criterion state in STATE_ORDER (higher is closer to acquisition)."""
    return STATE_ORDER.index(state)


# Inputs ---------------------------------------------------------------------------------------


class RatingEvent(NamedTuple):
    """One criterion rated in one tutor observation. A named tuple, not a frozen dataclass:
    a progress request builds hundreds of them, at a fifth of a dataclass's cost."""

    observation_id: str
    observed_on: date
    recorded_at: datetime
    criterion: str
    value: str  # met | progressing | not_met


@dataclass(frozen=True)
class EvidenceItem:
    """A received photo or document, documenting expected evidence `label` of `competency`."""

    photo_id: str
    competency: str
    label: str
    kind: str  # photo | document, from the referential's evidence item


@dataclass(frozen=True)
class ReflectionItem:
    """An AFEST reflective phase about a block (recorded apart from production work)."""

    observation_id: str
    block: str
    observed_on: date


@dataclass(frozen=True)
class HeldBlock:
    """A block capitalised from an earlier decision (possibly of another version)."""

    block: str
    decided_on: date
    referential_version: str


@dataclass(frozen=True)
class BlockDecision:
    """The jury's standing on a block: submitted (no date yet), validated or not_validated."""

    block: str
    status: str
    decided_on: date | None


# Outputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionProgress:
    code: str
    label: str
    essential: bool
    competency: str
    block: str
    state: str
    reason: str
    met_count: int  # distinct observations rating it met
    met_days: int  # distinct days of those observations
    ratings_count: int  # distinct observations rating it at all
    needed: int  # new met observations still needed to acquire it (0 once acquired)
    last_value: str | None
    last_observed_on: date | None


@dataclass(frozen=True)
class EvidenceProgress:
    kind: str
    label: str
    min: int
    count: int  # distinct photos received
    missing: bool
    reason: str
    photos: tuple[str, ...]


@dataclass(frozen=True)
class CompetencyProgress:
    code: str
    title: str
    state: str
    reason: str
    criteria_acquired: int
    criteria_total: int
    essential_acquired: int
    essential_total: int
    evidence_missing: tuple[str, ...]  # labels of the expected evidence still missing
    criteria: tuple[CriterionProgress, ...]
    evidence: tuple[EvidenceProgress, ...]


@dataclass(frozen=True)
class BlockProgress:
    code: str
    title: str
    state: str
    reason: str
    ready: bool  # may be frozen into a dossier and sent to a jury now
    percent: int  # share of the readiness requirements met; 100 when held or validated
    competencies_acquired: int
    competencies_total: int
    criteria_acquired: int
    criteria_total: int
    reflections: int
    decided_on: date | None  # of the capitalisation or jury decision behind the state
    valid_until: date | None  # end of a capitalisation (None: not held, or for life)
    competencies: tuple[CompetencyProgress, ...]


@dataclass(frozen=True)
class EnrolmentProgress:
    code: str
    version: str
    title: str
    as_of: date
    reason: str
    certificate_complete: bool  # every block validated, or held and still valid
    blocks_done: int
    blocks_total: int
    blocks: tuple[BlockProgress, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready tree (dates as ISO strings): the body of GET .../progress."""
        return _plain(self)


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


# Indexes over the inputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    rules: Rules
    ratings: dict[str, list[RatingEvent]]  # by criterion
    photos: dict[tuple[str, str], set[str]]  # by (competency, label)
    reflections: dict[str, list[ReflectionItem]]  # by block
    held: dict[str, HeldBlock]  # the latest capitalisation of each block
    decisions: dict[str, BlockDecision]  # the latest standing of each block


def _by_criterion(ratings: Iterable[RatingEvent]) -> dict[str, list[RatingEvent]]:
    grouped: dict[str, list[RatingEvent]] = defaultdict(list)
    for r in ratings:
        if r.value not in RATING_VALUES:
            raise ValueError(f"{r.observation_id}: unknown rating {r.value!r} for {r.criterion}")
        grouped[r.criterion].append(r)
    return grouped


def _photos(evidence: Iterable[EvidenceItem]) -> dict[tuple[str, str], set[str]]:
    # A set: the same photo attached twice is still one piece of evidence.
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in evidence:
        grouped[(e.competency, e.label)].add(e.photo_id)
    return grouped


def _by_block(reflections: Iterable[ReflectionItem]) -> dict[str, list[ReflectionItem]]:
    grouped: dict[str, list[ReflectionItem]] = defaultdict(list)
    for r in reflections:
        grouped[r.block].append(r)
    return grouped


def _latest_held(held: Iterable[HeldBlock]) -> dict[str, HeldBlock]:
    latest: dict[str, HeldBlock] = {}
    for h in sorted(held, key=lambda h: (h.decided_on, h.referential_version)):
        latest[h.block] = h
    return latest


def _decision_key(d: BlockDecision) -> tuple[bool, date, bool]:
    # A pending submission is the latest standing: a block has one dossier at the jury at a
    # time, sent after any earlier decision. Two decisions on one day: the validation wins.
    return (d.status == "submitted", d.decided_on or date.min, d.status == "validated")


def _latest_decisions(decisions: Iterable[BlockDecision]) -> dict[str, BlockDecision]:
    latest: dict[str, BlockDecision] = {}
    for d in sorted(decisions, key=_decision_key):
        if d.status not in DECISION_STATUSES:
            raise ValueError(f"{d.block}: unknown decision status {d.status!r}")
        if d.status != "submitted" and d.decided_on is None:
            raise ValueError(f"{d.block}: a {d.status} decision needs its date")
        latest[d.block] = d
    return latest


# Criteria -------------------------------------------------------------------------------------


def _latest_key(r: RatingEvent) -> tuple[date, datetime, str, int]:
    return (r.observed_on, r.recorded_at, r.observation_id, _TIE_RANK[r.value])


def _needed(met_count: int, met_days: int, last_value: str | None, rules: Rules) -> int:
    """New met observations, each on a new day after the others, that would acquire it."""
    latest_gap = 0 if last_value == "met" else 1
    return max(rules.criterion_min_met - met_count, rules.criterion_min_days - met_days, latest_gap)


def _criterion_state(last_value: str | None, needed: int) -> str:
    if last_value is None:
        return "not_observed"
    if needed == 0:
        return "acquired"
    return "regressed" if last_value == "not_met" else "progressing"


def _criterion(
    criterion: Criterion, competency: str, block: str, facts: _Facts
) -> CriterionProgress:
    ratings = facts.ratings.get(criterion.code, [])
    met = [r for r in ratings if r.value == "met"]
    met_count = len({r.observation_id for r in met})
    met_days = len({r.observed_on for r in met})
    last = max(ratings, key=_latest_key, default=None)
    last_value = last.value if last else None
    needed = _needed(met_count, met_days, last_value, facts.rules)
    state = _criterion_state(last_value, needed)
    reason = _criterion_reason(state, met_count, met_days, last, facts.rules)
    return CriterionProgress(
        code=criterion.code,
        label=criterion.label,
        essential=criterion.essential,
        competency=competency,
        block=block,
        state=state,
        reason=f"{criterion.code} : {reason}",
        met_count=met_count,
        met_days=met_days,
        ratings_count=len({r.observation_id for r in ratings}),
        needed=needed,
        last_value=last_value,
        last_observed_on=last.observed_on if last else None,
    )


def _criterion_reason(
    state: str, met_count: int, met_days: int, last: RatingEvent | None, rules: Rules
) -> str:
    if last is None:
        return (
            f"jamais observé, {_n(rules.criterion_min_met, 'observation conforme requise')}"
            f" sur {_n(rules.criterion_min_days, 'jour distinct')}"
        )
    met = _n(met_count, "observation conforme")
    days = _n(met_days, "jour distinct")
    on = _fr(last.observed_on)
    if state == "acquired":
        return f"acquis ({met} sur {days}, la dernière le {on})"
    tally = f"{met} sur {rules.criterion_min_met}, sur {days} sur {rules.criterion_min_days}"
    if last.value == "met":
        return tally
    word = "non acquis" if last.value == "not_met" else "en cours"
    return f"{word} à la dernière observation, le {on} ; {tally}"


# Competencies and evidence --------------------------------------------------------------------


def _evidence(competency: str, expected: Evidence, facts: _Facts) -> EvidenceProgress:
    photos = facts.photos.get((competency, expected.label), set())
    count = len(photos)
    text = _evidence_words(expected.kind, expected.label, count, expected.min)
    return EvidenceProgress(
        kind=expected.kind,
        label=expected.label,
        min=expected.min,
        count=count,
        missing=count < expected.min,
        reason=f"{competency} : {text}",
        photos=tuple(sorted(photos)),
    )


def _evidence_text(e: EvidenceProgress) -> str:
    return _evidence_words(e.kind, e.label, e.count, e.min)


def _evidence_words(kind: str, label: str, count: int, minimum: int) -> str:
    got, got_pl, req, req_pl, missing = _EVIDENCE_WORDS[kind]
    named = f"{kind} « {label} »"
    if count == 0 and minimum == 1:
        return f"{named} {missing}"
    return f"{named} : {_n(count, got, got_pl)} sur {_n(minimum, req, req_pl)}"


def _competency(competency: Competency, block: str, facts: _Facts) -> CompetencyProgress:
    criteria = tuple(_criterion(k, competency.code, block, facts) for k in competency.criteria)
    evidence = tuple(_evidence(competency.code, e, facts) for e in competency.evidence)
    essential = [k for k in criteria if k.essential]
    pending = [k.code for k in essential if k.state != "acquired"]
    if not pending:
        state, head = "acquired", "acquise"
    elif all(k.ratings_count == 0 for k in criteria):
        state, head = "not_started", "aucun critère observé"
    else:
        acquired = _n(len(essential) - len(pending), "critère essentiel acquis")
        state = "in_progress"
        head = f"{acquired} sur {len(essential)} (à acquérir : {', '.join(pending)})"
    gaps = [_evidence_text(e) for e in evidence if e.missing]
    return CompetencyProgress(
        code=competency.code,
        title=competency.title,
        state=state,
        reason=f"{competency.code} : " + " ; ".join([head, *gaps]),
        criteria_acquired=sum(k.state == "acquired" for k in criteria),
        criteria_total=len(criteria),
        essential_acquired=len(essential) - len(pending),
        essential_total=len(essential),
        evidence_missing=tuple(e.label for e in evidence if e.missing),
        criteria=criteria,
        evidence=evidence,
    )


# Blocks ---------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when there is none (art. 641)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month - 1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def _add_years(day: date, years: int) -> date:
    """The same date `years` later; from 29 February, the 28th in a common year.

    A period in years ends on the day with the same number, or the last day of the month when
    there is none (Code de procédure civile, art. 641), and the period includes that day.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _block_gaps(
    competencies: tuple[CompetencyProgress, ...], reflections: int, rules: Rules
) -> list[str]:
    """What the block still lacks to be ready for the jury, in French; empty when ready."""
    gaps = []
    pending = [c.code for c in competencies if c.state != "acquired"]
    if pending:
        acquired = _n(len(competencies) - len(pending), "compétence acquise")
        gaps.append(f"{acquired} sur {len(competencies)} (à acquérir : {', '.join(pending)})")
    gaps += [
        f"{_evidence_text(e)} ({c.code})" for c in competencies for e in c.evidence if e.missing
    ]
    if reflections < rules.block_min_reflections:
        required = _n(rules.block_min_reflections, "réflexion requise")
        done = _n(reflections, "enregistrée") if reflections else "aucune enregistrée"
        gaps.append(f"{required}, {done}")
    return gaps


def _percent(competencies: tuple[CompetencyProgress, ...], reflections: int, rules: Rules) -> int:
    """Share of the readiness requirements met, as units of work still to record.

    Each essential criterion weighs the met observations it needs from scratch, each evidence
    item its minimum, the reflections their minimum; 100 exactly when the rules are met.
    """
    per_criterion = max(rules.criterion_min_met, rules.criterion_min_days, 1)
    essential = [k for c in competencies for k in c.criteria if k.essential]
    evidence = [e for c in competencies for e in c.evidence]
    total = (
        per_criterion * len(essential) + sum(e.min for e in evidence) + rules.block_min_reflections
    )
    done = (
        sum(per_criterion - k.needed for k in essential)
        + sum(min(e.count, e.min) for e in evidence)
        + min(reflections, rules.block_min_reflections)
    )
    return 100 if total == 0 else 100 * done // total


def _last_activity(
    competencies: tuple[CompetencyProgress, ...], reflections: list[ReflectionItem]
) -> date | None:
    days = [k.last_observed_on for c in competencies for k in c.criteria if k.last_observed_on]
    days += [r.observed_on for r in reflections]
    return max(days, default=None)


def _held_reason(held: HeldBlock, valid_until: date | None, ref: Referential) -> str:
    same = held.referential_version == ref.version
    version = "" if same else f" (version {held.referential_version})"
    until = f"jusqu'au {_fr(valid_until)}" if valid_until else "à vie"
    return f"acquis le {_fr(held.decided_on)}{version}, valable {until}"


def _decision_standing(
    decision: BlockDecision, gaps: list[str], last_activity: date | None
) -> tuple[str, bool, str]:
    """(state, ready, reason) of a block the jury has in hand or has decided on.

    After a refusal the block may go back to the jury when the rules are met again and some
    work was recorded after the decision: a rating or a reflection observed on a later day.
    """
    if decision.status == "submitted":
        return "submitted", False, "présenté au jury, décision en attente"
    on = _fr(decision.decided_on)
    if decision.status == "validated":
        return "validated", False, f"validé par le jury le {on}"
    fresh = last_activity is not None and last_activity > decision.decided_on
    if gaps:
        after = " ; ".join(gaps)
    elif fresh:
        after = "peut être présenté de nouveau"
    else:
        after = "une observation ou une réflexion postérieure à la décision est attendue"
    return "not_validated", not gaps and fresh, f"non validé par le jury le {on} ; {after}"


def _standing(
    held: HeldBlock | None,
    valid_until: date | None,
    decision: BlockDecision | None,
    gaps: list[str],
    last_activity: date | None,
    ref: Referential,
    today: date,
) -> tuple[str, bool, str, date | None]:
    """(state, ready, reason, decided_on): a valid capitalisation, else the jury, else the rules."""
    if held and (valid_until is None or today <= valid_until):
        return "held", False, _held_reason(held, valid_until, ref), held.decided_on
    if decision:
        return (*_decision_standing(decision, gaps, last_activity), decision.decided_on)
    if gaps:
        return "in_progress", False, " ; ".join(gaps), None
    return "ready", True, "prêt pour le jury", None


def _block(block: Block, ref: Referential, facts: _Facts, today: date) -> BlockProgress:
    competencies = tuple(_competency(c, block.code, facts) for c in block.competencies)
    reflection_items = facts.reflections.get(block.code, [])
    reflections = len({r.observation_id for r in reflection_items})
    gaps = _block_gaps(competencies, reflections, facts.rules)
    held = facts.held.get(block.code)
    valid_until = None
    if held and ref.validity_months is not None:
        valid_until = add_months(held.decided_on, ref.validity_months)
    last_activity = _last_activity(competencies, reflection_items)
    decision = facts.decisions.get(block.code)
    state, ready, reason, decided_on = _standing(
        held, valid_until, decision, gaps, last_activity, ref, today
    )
    if held and state != "held":
        reason = f"capitalisation expirée le {_fr(valid_until)} ; {reason}"
    return BlockProgress(
        code=block.code,
        title=block.title,
        state=state,
        reason=f"{block.code} : {reason}",
        ready=ready,
        percent=(
            100
            if state in ("held", "validated")
            else _percent(competencies, reflections, facts.rules)
        ),
        competencies_acquired=sum(c.state == "acquired" for c in competencies),
        competencies_total=len(competencies),
        criteria_acquired=sum(c.criteria_acquired for c in competencies),
        criteria_total=sum(c.criteria_total for c in competencies),
        reflections=reflections,
        decided_on=decided_on,
        valid_until=valid_until,
        competencies=competencies,
    )


# Enrolment ------------------------------------------------------------------------------------


def compute_progress(
    ref: Referential,
    ratings: Iterable[RatingEvent],
    evidence: Iterable[EvidenceItem],
    reflections: Iterable[ReflectionItem],
    held: Iterable[HeldBlock],
    decisions: Iterable[BlockDecision],
    today: date,
) -> EnrolmentProgress:
    """Progress of one enrolment pinned to `ref`, as of `today` (capitalisations expire)."""
    facts = _Facts(
        rules=ref.rules,
        ratings=_by_criterion(ratings),
        photos=_photos(evidence),
        reflections=_by_block(reflections),
        held=_latest_held(held),
        decisions=_latest_decisions(decisions),
    )
    blocks = tuple(_block(b, ref, facts, today) for b in ref.blocks)
    done = sum(b.state in ("held", "validated") for b in blocks)
    complete = done == len(blocks)
    return EnrolmentProgress(
        code=ref.code,
        version=ref.version,
        title=ref.title,
        as_of=today,
        reason=f"{ref.code} : {_enrolment_reason(blocks, done, complete)}",
        certificate_complete=complete,
        blocks_done=done,
        blocks_total=len(blocks),
        blocks=blocks,
    )


def _enrolment_reason(blocks: tuple[BlockProgress, ...], done: int, complete: bool) -> str:
    agreed = "validés ou capitalisés" if done > 1 else "validé ou capitalisé"
    settled = f"{_n(done, 'bloc')} sur {len(blocks)} {agreed}"
    if complete:
        return f"certificat complet, {settled}"
    parts = [settled]
    ready = [b.code for b in blocks if b.ready]
    if ready:
        parts.append(f"à présenter au jury : {', '.join(ready)}")
    return " ; ".join(parts)


def observe_next(progress: EnrolmentProgress, limit: int = 5) -> list[CriterionProgress]:
    """Criteria the tutor should observe next, closest to acquisition first.

    Only criteria not acquired, in blocks still to prove (not held, validated or at the jury).
    Order: fewest met observations still needed, essential first, then referential order.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    candidates = [
        k
        for b in progress.blocks
        if b.state not in _SETTLED
        for c in b.competencies
        for k in c.criteria
        if k.state != "acquired"
    ]
    # sorted() is stable, so referential order breaks the remaining ties.
    return sorted(candidates, key=lambda k: (k.needed, not k.essential))[:limit]


# Versions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionMapping:
    code: str
    old_version: str
    new_version: str
    mapped: tuple[str, ...]  # criterion codes in both versions, in the new one's order
    new: tuple[str, ...]  # only in the new version
    removed: tuple[str, ...]  # only in the old version: their ratings are not carried
    ratings: tuple[RatingEvent, ...]  # carried, in input order
    evidence: tuple[EvidenceItem, ...]  # carried, with the kind the new version expects
    ratings_dropped: int
    evidence_dropped: int

    def summary(self) -> str:
        return (
            f"{self.code}, version {self.old_version} vers {self.new_version} : "
            f"{_n(len(self.mapped), 'critère repris')}, "
            f"{_n(len(self.new), 'nouveau', 'nouveaux')}{_listed(self.new)}, "
            f"{_n(len(self.removed), 'supprimé')}{_listed(self.removed)} ; "
            f"{_n(len(self.ratings), 'notation reprise')}, "
            f"{_n(self.ratings_dropped, 'abandonnée')} ; "
            f"{_n(len(self.evidence), 'preuve reprise')}, "
            f"{_n(self.evidence_dropped, 'abandonnée')}"
        )


def map_to_version(
    old: Referential,
    new: Referential,
    ratings: Iterable[RatingEvent],
    evidence: Iterable[EvidenceItem],
) -> VersionMapping:
    """Carry an enrolment's records from `old` to `new` by the stable criterion codes.

    A criterion whose code changed is removed then new: only an explicit, identical code
    carries ratings. Evidence is carried when its competency code and label exist in `new`.
    """
    if old.code != new.code:
        raise ValueError(f"cannot map {old.code} to {new.code}: not the same certificate")
    if old.version == new.version:
        raise ValueError(f"{old.code} {old.version}: mapping needs a different version")
    old_codes = old.criterion_codes()
    new_codes = new.criterion_codes()
    shared = old_codes & new_codes
    ratings = tuple(ratings)
    evidence = tuple(evidence)
    carried = tuple(r for r in ratings if r.criterion in shared)
    kinds = {(c.code, e.label): e.kind for c in new.competencies() for e in c.evidence}
    kept = tuple(
        replace(e, kind=kinds[(e.competency, e.label)])
        for e in evidence
        if (e.competency, e.label) in kinds
    )
    return VersionMapping(
        code=new.code,
        old_version=old.version,
        new_version=new.version,
        mapped=tuple(k.code for k in new.criteria() if k.code in old_codes),
        new=tuple(k.code for k in new.criteria() if k.code not in old_codes),
        removed=tuple(k.code for k in old.criteria() if k.code not in new_codes),
        ratings=carried,
        evidence=kept,
        ratings_dropped=len(ratings) - len(carried),
        evidence_dropped=len(evidence) - len(kept),
    )


# French wording -------------------------------------------------------------------------------


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """`count` and its noun; French takes the singular for 0 and 1."""
    if count <= 1:
        return f"{count} {singular}"
    return f"{count} {plural or _plural(singular)}"


@cache  # a handful of nouns, asked for thousands of times per tree
def _plural(words: str) -> str:
    """Regular French plural of each word: an -s, except after s or x."""
    return " ".join(w if w.endswith(("s", "x")) else f"{w}s" for w in words.split())


def _fr(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"  # strftime, at a third of its cost


def _listed(codes: tuple[str, ...]) -> str:
    return f" ({', '.join(codes)})" if codes else ""
