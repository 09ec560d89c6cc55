"""The jury's pure rules: the frozen manifest of a dossier and its hash, the composition of a
jury, conflicts of interest, the decision's input, outcomes per enrolment and the minutes.

Plain values in, plain values out; no ORM, no await. `backend.domain.dossiers` reads the rows
and writes the results. Texts the jury, the candidate and the tutor read are French; messages
of `diff_manifests` are English, for the operators running `carnet dossier verify`.

The manifest is JSON made of strings, integers, booleans, null, lists and objects only (dates
as ISO strings): it goes through the database's JSON column and back unchanged, so its sha256
over the canonical encoding can be recomputed at any time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.domain.progress import (
    BlockProgress,
    EvidenceItem,
    HeldBlock,
    RatingEvent,
    ReflectionItem,
    add_months,
    compute_progress,
)
from backend.domain.referentials import Block, JuryRules, Referential
from backend.errors import ValidationFailed
from backend.models import COLLEGES, OUTCOMES

MANIFEST_FORMAT = "carnet-dossier/1"
# Columns of the rows a manifest is built from (`.values(*FIELDS)`).
OBSERVATION_FIELDS = ("id", "kind", "author_id", "author_role", "observed_on", "created_at",
                      "block_code", "situation", "place", "comment", "ratings", "photos",
                      "referential_version", "content_sha256", "supersedes_id")
PHOTO_FIELDS = ("id", "sha256", "thumb_sha256", "size", "thumb_size", "width", "height",
                "content_type", "author_role", "captured_at")
ATTESTATION_TEXT = ("J'atteste que les observations et les photos de ce dossier ont été "
                    "recueillies en situation de travail, aux dates indiquées.")
MAX_REASONS = 5000
MAX_GROUNDS = 5000

COLLEGE_LABELS = {"employer": "collège employeurs", "employee": "collège salariés"}
OUTCOME_LABELS = {"validated": "validé", "not_validated": "non validé"}
# Outcome of an enrolment: what the candidate holds after the jury.
OUTCOME_KINDS = ("certificate", "partial", "not_delivered", "in_progress")
BLOCK_OUTCOMES = ("validated", "held", "expired", "not_validated", "pending", "not_presented")
ACQUIRED = ("validated", "held")


# Canonical JSON and hashes ------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8. Strict: anything not plain JSON is a bug, not a string."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def instant(at: datetime | None) -> str | None:
    """One spelling per instant whatever the database returned (UTC, microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds") if at else None


# The manifest -------------------------------------------------------------------------------


def counting(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every row but those another row supersedes (a correction replaces, never edits)."""
    rows = list(rows)
    superseded = {str(r["supersedes_id"]) for r in rows if r["supersedes_id"] is not None}
    return [r for r in rows if str(r["id"]) not in superseded]


def _competency_blocks(ref: Referential) -> dict[str, str]:
    return {c.code: b.code for b in ref.blocks for c in b.competencies}


def touched_blocks(row: Mapping[str, Any], ref: Referential) -> set[str]:
    """The blocks a row bears on: rated criteria, photos' competencies, a reflection's block
    (the same reading as `evidence.blocks_touched`, which freezes them)."""
    of_competency = _competency_blocks(ref)
    blocks = {b.code for code in row["ratings"] if (b := ref.block_of_criterion(code))}
    blocks |= {of_competency[p["competency"]] for p in row["photos"]
               if p.get("competency") in of_competency}
    if row["block_code"]:
        blocks.add(row["block_code"])
    return blocks


def _observation_entry(row: Mapping[str, Any], block: Block) -> dict[str, Any]:
    criteria = {k.code for c in block.competencies for k in c.criteria}
    competencies = {c.code for c in block.competencies}
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "author": row["author_id"],
        "author_role": row["author_role"],
        "observed_on": row["observed_on"].isoformat(),
        "recorded_at": instant(row["created_at"]),
        "block": row["block_code"],
        "situation": row["situation"],
        "place": row["place"],
        "comment": row["comment"],
        "ratings": {k: v for k, v in sorted(row["ratings"].items()) if k in criteria},
        "photos": [{"id": str(p["id"]), "competency": p.get("competency"),
                    "evidence": p.get("evidence")}
                   for p in row["photos"] if p.get("competency") in (None, *competencies)],
        "referential_version": row["referential_version"],
        "content_sha256": row["content_sha256"],
    }


def _photo_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "sha256": row["sha256"], "thumb_sha256": row["thumb_sha256"],
            "size": row["size"], "thumb_size": row["thumb_size"], "width": row["width"],
            "height": row["height"], "content_type": row["content_type"],
            "author_role": row["author_role"], "captured_at": instant(row["captured_at"])}


def evidence_part(ref: Referential, block_code: str, observations: Iterable[Mapping[str, Any]],
                  photos: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What the stored rows say about one block: the part of a manifest `verify` recomputes.

    `observations` are every observation row of the enrolment (OBSERVATION_FIELDS); the
    superseded ones and those not bearing on the block are left out, ratings are restricted
    to the block's criteria. `photos` are the enrolment's received photos (PHOTO_FIELDS)."""
    block = ref.block(block_code)
    if block is None:
        raise ValueError(f"{ref.code} {ref.version} has no block {block_code}")
    live = [r for r in counting(observations) if block_code in touched_blocks(r, ref)]
    live.sort(key=lambda r: (r["observed_on"], instant(r["created_at"]), str(r["id"])))
    entries = [_observation_entry(r, block) for r in live]
    cited = {p["id"] for e in entries for p in e["photos"]}
    received = {str(p["id"]): p for p in photos}
    return {
        "referential": {"code": ref.code, "version": ref.version, "digest": ref.digest},
        "block": {"code": block.code, "title": block.title},
        "observations": entries,
        "photos": [_photo_entry(received[pid]) for pid in sorted(cited) if pid in received],
        "photos_not_received": sorted(cited - received.keys()),
    }


def build_manifest(*, ref: Referential, block_code: str, enrolment: Mapping[str, Any],
                   observations: Iterable[Mapping[str, Any]],
                   photos: Iterable[Mapping[str, Any]],
                   attestation: Mapping[str, Any]) -> dict[str, Any]:
    """`enrolment` is {id, candidate, company} (ids); `attestation` {person, name, role, at}."""
    return {"format": MANIFEST_FORMAT, "enrolment": dict(enrolment),
            **evidence_part(ref, block_code, observations, photos),
            "attestation": {**attestation, "statement": ATTESTATION_TEXT}, "review_of": None}


def appeal_manifest(original: Mapping[str, Any], *, dossier_id: int, manifest_sha256: str,
                    grounds: str, by: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """An appeal re-examines the same frozen evidence: the original manifest, plus the
    reference to it (with its hash) and the candidate's grounds."""
    return {**original, "review_of": {"dossier": dossier_id, "manifest_sha256": manifest_sha256,
                                      "grounds": grounds, "by": dict(by), "at": instant(at)}}


def readable(manifest: Any) -> bool:
    """A manifest of this format with the parts the pages and checks read (a tampered row
    may hold anything)."""
    return (isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT
            and isinstance(manifest.get("referential"), dict)
            and isinstance(manifest.get("block"), dict)
            and isinstance(manifest.get("enrolment"), dict)
            and isinstance(manifest.get("attestation"), dict)
            and isinstance(manifest.get("observations"), list)
            and isinstance(manifest.get("photos"), list))


def original_of(appeal: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest an appeal was made from (what it must equal, key for key)."""
    return {**appeal, "review_of": None}


def diff_manifests(stored: Mapping[str, Any], fresh: Mapping[str, Any]) -> list[str]:
    """Differences between a stored manifest and one recomputed from the rows, by item id."""
    problems = []
    for key in sorted(stored.keys() | fresh.keys()):
        if key in ("observations", "photos"):
            problems += _diff_items(key, stored.get(key) or [], fresh.get(key) or [])
        elif stored.get(key) != fresh.get(key):
            problems.append(f"{key}: stored {_short(stored.get(key))}, "
                            f"rows give {_short(fresh.get(key))}")
    return problems


def _diff_items(kind: str, stored: list[dict], fresh: list[dict]) -> list[str]:
    noun = kind.removesuffix("s")
    before, after = {i["id"]: i for i in stored}, {i["id"]: i for i in fresh}
    problems = []
    for item_id in before.keys() | after.keys():
        old, new = before.get(item_id), after.get(item_id)
        if new is None:
            problems.append(f"{noun} {item_id}: in the manifest, missing from the rows")
        elif old is None:
            problems.append(f"{noun} {item_id}: in the rows, missing from the manifest")
        else:
            problems += _diff_fields(f"{noun} {item_id}", old, new)
    if [i["id"] for i in stored] != [i["id"] for i in fresh] and not problems:
        problems.append(f"{kind}: order changed")
    return sorted(problems)


def _diff_fields(where: str, old: Mapping[str, Any], new: Mapping[str, Any],
                 prefix: str = "") -> list[str]:
    problems = []
    for field in sorted(old.keys() | new.keys()):
        before, after = old.get(field), new.get(field)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            problems += _diff_fields(where, before, after, f"{prefix}{field}.")
        else:
            problems.append(f"{where}: {prefix}{field} changed (stored {_short(before)}, "
                            f"rows give {_short(after)})")
    return problems


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# Reading a manifest -------------------------------------------------------------------------


def manifest_progress(manifest: Mapping[str, Any], ref: Referential, as_of: date
                      ) -> BlockProgress:
    """The block's readiness computed from the frozen evidence alone: the reasons the jury
    reads are those of the dossier, not of whatever was recorded afterwards."""
    kinds = {(c.code, e.label): e.kind for c in ref.competencies() for e in c.evidence}
    received = {p["id"] for p in manifest["photos"]}
    ratings, evidence, reflections = [], [], []
    for o in manifest["observations"]:
        day = date.fromisoformat(o["observed_on"])
        if o["kind"] == "reflection" and o["block"]:
            reflections.append(ReflectionItem(o["id"], o["block"], day))
        elif o["kind"] == "observation" and o["author_role"] != "candidate":
            at = datetime.fromisoformat(o["recorded_at"])
            ratings += [RatingEvent(o["id"], day, at, code, value)
                        for code, value in o["ratings"].items()]
        for p in o["photos"]:
            key = (p["competency"], p["evidence"])
            if p["id"] in received and key in kinds:
                evidence.append(EvidenceItem(p["id"], key[0], key[1], kinds[key]))
    tree = compute_progress(ref, ratings, evidence, reflections, (), (), as_of)
    return next(b for b in tree.blocks if b.code == manifest["block"]["code"])


@dataclass(frozen=True)
class RatingMark:
    observed_on: str
    value: str
    observation: str
    author_role: str


def criteria_timeline(manifest: Mapping[str, Any]) -> dict[str, list[RatingMark]]:
    """Each criterion's ratings in the dossier, oldest first (the manifest's order)."""
    timeline: dict[str, list[RatingMark]] = {}
    for o in manifest["observations"]:
        for code, value in o["ratings"].items():
            timeline.setdefault(code, []).append(
                RatingMark(o["observed_on"], value, o["id"], o["author_role"]))
    return timeline


def photo_labels(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each received photo of the dossier with the competency and evidence it documents and
    the day of the first observation citing it."""
    received = {p["id"]: p for p in manifest["photos"]}
    labels: dict[str, dict[str, Any]] = {}
    for o in manifest["observations"]:
        for p in o["photos"]:
            if p["id"] in received and p["id"] not in labels:
                labels[p["id"]] = {**received[p["id"]], "competency": p["competency"],
                                   "evidence": p["evidence"], "observed_on": o["observed_on"]}
    return labels


# Composition and conflicts ------------------------------------------------------------------


# What a member represents gives their college: recorded when they are seated, never chosen.
MANDATES = {"employer_organisation": "employer", "union": "employee"}
MANDATE_LABELS = {"employer_organisation": "organisation professionnelle d'employeurs",
                  "union": "organisation syndicale de salariés"}


def college_of(mandate: str) -> str | None:
    """The college of a member who represents an organisation of kind `mandate`."""
    return MANDATES.get(mandate)


def composition_problems(members: Iterable[tuple[str, bool]],
                         previous_president_college: str | None = None) -> list[str]:
    """What keeps a session of `members` (college, is_president) from sitting: a member of
    each college and exactly one president; the presidency alternates between the colleges
    from one session of the branch to the next (`previous_president_college`, the college
    that presided the branch's last closed session). How many members decide each dossier
    is the deliberation's rule (`deliberation_problems`, `deliberate`): the one function for
    the session screens, the admin's pages and the closing."""
    members = list(members)
    counts = {college: sum(1 for c, _ in members if c == college) for college in COLLEGES}
    problems = [f"Aucun membre du {COLLEGE_LABELS[c]}." for c in COLLEGES if not counts[c]]
    presidents = [c for c, president in members if president]
    if len(presidents) != 1:
        problems.append("Aucun président désigné." if not presidents
                        else "Plusieurs présidents sont désignés.")
    elif previous_president_college and presidents[0] == previous_president_college:
        problems.append(f"La présidence alterne entre les collèges : la session précédente "
                        f"était présidée par le {COLLEGE_LABELS[presidents[0]]}, celle-ci doit "
                        "l'être par l'autre collège.")
    return problems


def rules_text(rules: JuryRules) -> str:
    """The rules of deliberation in one French sentence (minutes, session pages)."""
    parts = [f"au moins {rules.quorum} membres délibérants sans conflit d'intérêts",
             "autant de membres de chaque collège parmi eux" if rules.composition == "parity"
             else "au moins un membre de chaque collège parmi eux",
             "majorité simple des voix" if rules.majority == "simple"
             else "majorité des deux tiers des voix",
             "voix prépondérante du président en cas de partage" if rules.casting_vote
             else "pas de voix prépondérante : un partage ne décide pas"]
    return ", ".join(parts)


DEFAULT_RULES = JuryRules()


def deliberation_problems(colleges: Iterable[str], rules: JuryRules = DEFAULT_RULES
                          ) -> list[str]:
    """What keeps the members free of conflict (their `colleges`) from deciding a dossier
    under `rules`, before anyone votes."""
    colleges = list(colleges)
    counts = {c: colleges.count(c) for c in COLLEGES}
    problems = [f"Aucun membre du {COLLEGE_LABELS[c]} sans conflit d'intérêts." for c in COLLEGES
                if not counts[c]]
    if len(colleges) < rules.quorum:
        problems.append(f"Quorum non atteint : {len(colleges)} membre(s) sans conflit "
                        f"d'intérêts, il en faut {rules.quorum}.")
    return problems


@dataclass(frozen=True)
class Seat:
    person: int
    college: str
    president: bool


@dataclass(frozen=True)
class Deliberation:
    outcome: str
    record: list[dict[str, Any]]  # per deliberating member: person, college, president, vote
    excluded: list[dict[str, Any]]  # seated members in conflict: person, reason


def deliberate(seats: Sequence[Seat], conflicted: Mapping[int, str], votes: Mapping[int, str],
               rules: JuryRules) -> Deliberation:
    """The jury's decision on one dossier from the votes of the members present at the
    deliberation (`votes`: {person: outcome}; the members present are those who vote).

    A conflicted member never deliberates; the members deliberating must reach the quorum and
    the composition (parity by default); the outcome needs the majority, and a tie is decided
    by the president's vote only when `rules.casting_vote` says so."""
    by_person = {s.person: s for s in seats}
    problems = []
    for person, vote in votes.items():
        if person not in by_person:
            problems.append(f"La personne {person} ne siège pas dans cette session.")
        elif person in conflicted:
            problems.append(f"La personne {person} est en conflit d'intérêts "
                            f"({conflicted[person]}) : elle ne délibère pas sur ce dossier.")
        if vote not in OUTCOMES:
            problems.append(f"Le vote de la personne {person} vaut validated ou not_validated.")
    if problems:
        raise ValidationFailed(problems[0], code="invalid_deliberation",
                               details={"problems": problems})
    deciding = [by_person[p] for p in sorted(votes)]
    counts = {c: sum(1 for s in deciding if s.college == c) for c in COLLEGES}
    problems = deliberation_problems([s.college for s in deciding], rules)
    if rules.composition == "parity" and counts["employer"] != counts["employee"]:
        problems.append("Délibération non paritaire : " + ", ".join(
            f"{counts[c]} au {COLLEGE_LABELS[c]}" for c in COLLEGES) + ".")
    if problems:
        raise ValidationFailed(problems[0], code="jury_quorum", details={"problems": problems})
    tally = {o: sum(1 for v in votes.values() if v == o) for o in OUTCOMES}
    cast = sum(tally.values())
    needed = (cast // 2 + 1) if rules.majority == "simple" else -(-2 * cast // 3)
    winners = [o for o in OUTCOMES if tally[o] >= needed]
    if len(winners) == 1:
        outcome = winners[0]
    else:
        president = next((s for s in deciding if s.president), None)
        tie = tally["validated"] == tally["not_validated"]
        if tie and rules.casting_vote and president is not None:
            outcome = votes[president.person]
        else:
            detail = (f"{tally['validated']} pour la validation, {tally['not_validated']} "
                      "contre")
            raise ValidationFailed(
                f"Pas de majorité ({detail}) : le jury ne décide pas ainsi.",
                code="no_majority", details={"tally": tally, "needed": needed})
    record = [{"person": s.person, "college": s.college, "president": s.president,
               "vote": votes[s.person]} for s in deciding]
    excluded = [{"person": s.person, "reason": conflicted[s.person]} for s in seats
                if s.person in conflicted]
    return Deliberation(outcome, record, sorted(excluded, key=lambda e: e["person"]))


def chair(seats: Sequence[Seat], conflicted: Mapping[int, str]) -> int | None:
    """Who enters the jury's decision on a dossier: the president, or, when the president is
    in conflict of interest on it, the first member of the other college free of conflict."""
    president = next((s for s in seats if s.president), None)
    if president is None:
        return None
    if president.person not in conflicted:
        return president.person
    return next((s.person for s in seats if s.college != president.college
                 and s.person not in conflicted), None)


def conflict_reason(*, candidate: bool = False, tutors: bool = False,
                    represents: bool = False, same_company: bool = False,
                    first_jury: bool = False) -> str | None:
    """Why a person may not decide on a candidate, from explicit ties (docs/domain.md): the
    candidate themself, any tutor of theirs (any enrolment, past or present), a
    representative of their company (the employer), a colleague in the same company, and for
    an appeal a member of the jury whose decision is appealed."""
    if candidate:
        return "le candidat lui-même"
    if tutors:
        return "tuteur du candidat"
    if represents:
        return "représentant de l'entreprise du candidat"
    if same_company:
        return "même entreprise que le candidat"
    if first_jury:
        return "membre du jury de la décision contestée"
    return None


def vice_president(members: Sequence[Any]) -> Any | None:
    """The first member of the other college than the president's (members in their order):
    presidency alternates between colleges, the vice-president comes from the other one."""
    president = next((m for m in members if m.is_president), None)
    if president is None:
        return None
    return next((m for m in members if m.college != president.college), None)


# Decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInput:
    outcome: str
    reasons: str
    recommendations: str
    votes: Mapping[int, str]  # {person: outcome} of the members present at the deliberation


def _text(body: Mapping[str, Any], key: str, problems: dict[str, str], limit: int) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems[key] = f"« {key} » doit être un texte."
        return ""
    if len(value) > limit:
        problems[key] = f"« {key} » dépasse {limit} caractères."
    return value.strip()


MAX_VOTES = 100


def _votes(raw: Any, problems: dict[str, str]) -> dict[int, str]:
    """{"<person id>": "validated" | "not_validated"}: the members present and their votes."""
    if not isinstance(raw, Mapping) or not raw or len(raw) > MAX_VOTES:
        problems["votes"] = ("« votes » donne le vote de chaque membre présent à la "
                             "délibération : {\"<id de la personne>\": \"validated\" ou "
                             "\"not_validated\"}.")
        return {}
    votes = {}
    for key, vote in raw.items():
        person = int(key) if isinstance(key, str) and key.isdigit() and len(key) < 10 else None
        if person is None or vote not in OUTCOMES:
            problems["votes"] = f"Vote illisible : {str(key)[:20]} → {str(vote)[:20]}."
            return {}
        votes[person] = vote
    return votes


def parse_decision(body: Mapping[str, Any]) -> DecisionInput:
    """{outcome: validated|not_validated, reasons, recommendations, votes}: the jury's
    decision as its chair enters it, with the vote of each member present; every decision,
    a validation as a refusal, states its reasons."""
    problems: dict[str, str] = {}
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        problems["outcome"] = "« outcome » vaut validated ou not_validated."
    reasons = _text(body, "reasons", problems, MAX_REASONS)
    recommendations = _text(body, "recommendations", problems, MAX_REASONS)
    if not reasons and "reasons" not in problems:
        problems["reasons"] = "Une décision doit être motivée, qu'elle valide ou non."
    votes = _votes(body.get("votes"), problems)
    if problems:
        raise ValidationFailed(next(iter(problems.values())), code="invalid_decision",
                               details=problems)
    return DecisionInput(outcome, reasons, recommendations, votes)


def parse_grounds(body: Mapping[str, Any]) -> str:
    problems: dict[str, str] = {}
    grounds = _text(body, "grounds", problems, MAX_GROUNDS)
    if not grounds and not problems:
        problems["grounds"] = "Un recours doit être motivé."
    if problems:
        raise ValidationFailed(next(iter(problems.values())), code="invalid_appeal",
                               details=problems)
    return grounds


# Outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierRecord:
    """A dossier as the outcome needs it. `final`: decided in a closed session."""

    id: int
    block: str
    submitted_on: date
    outcome: str | None
    decided_on: date | None
    final: bool
    reasons: str = ""
    recommendations: str = ""
    review_of: int | None = None


@dataclass(frozen=True)
class BlockOutcome:
    code: str
    title: str
    status: str  # BLOCK_OUTCOMES
    reason: str
    decided_on: date | None = None
    valid_until: date | None = None  # None with an acquired status: for life
    reasons: str = ""
    recommendations: str = ""
    dossier: int | None = None

    @property
    def acquired(self) -> bool:
        return self.status in ACQUIRED


@dataclass(frozen=True)
class Outcome:
    kind: str  # OUTCOME_KINDS
    reason: str
    blocks: tuple[BlockOutcome, ...]
    delivered_on: date | None  # of the certificate, or of the latest final decision

    @property
    def acquired(self) -> tuple[BlockOutcome, ...]:
        return tuple(b for b in self.blocks if b.acquired)


def _until(decided_on: date, months: int | None) -> date | None:
    return None if months is None else add_months(decided_on, months)


def _acquisitions(block: Block, held: list[HeldBlock], final: list[DossierRecord],
                  years: int | None) -> list[BlockOutcome]:
    """`years`: the validity in months (None: for life)."""
    found = [BlockOutcome(block.code, block.title, "validated", "", d.decided_on,
                          _until(d.decided_on, years), d.reasons, d.recommendations, d.id)
             for d in final if d.outcome == "validated"]
    found += [BlockOutcome(block.code, block.title, "held", "", h.decided_on,
                           _until(h.decided_on, years)) for h in held]
    return found


def _lasts_longest(o: BlockOutcome) -> tuple[bool, date, date]:
    return (o.valid_until is None, o.valid_until or date.min, o.decided_on or date.min)


def _fr(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _block_outcome(block: Block, held: list[HeldBlock], dossiers: list[DossierRecord],
                   years: int | None, today: date) -> BlockOutcome:
    final = sorted((d for d in dossiers if d.final), key=lambda d: (d.decided_on, d.id))
    acquired = _acquisitions(block, held, final, years)
    valid = [a for a in acquired if a.valid_until is None or today <= a.valid_until]
    if valid:
        best = max(valid, key=_lasts_longest)
        until = f"jusqu'au {_fr(best.valid_until)}" if best.valid_until else "à vie"
        how = "validé par le jury" if best.status == "validated" else "capitalisé"
        return _with(best, f"{how} le {_fr(best.decided_on)}, valable {until}")
    pending = [d for d in dossiers if not d.final]
    if pending:
        return BlockOutcome(block.code, block.title, "pending", "présenté au jury, décision "
                            "définitive à la clôture de la session", dossier=pending[-1].id)
    if final and final[-1].outcome == "not_validated":
        d = final[-1]
        return BlockOutcome(block.code, block.title, "not_validated",
                            f"non validé par le jury le {_fr(d.decided_on)}", d.decided_on,
                            None, d.reasons, d.recommendations, d.id)
    if acquired:
        last = max(acquired, key=_lasts_longest)
        return _with(last, f"acquis le {_fr(last.decided_on)}, validité expirée le "
                           f"{_fr(last.valid_until)}", status="expired")
    return BlockOutcome(block.code, block.title, "not_presented", "pas encore présenté au jury")


def _with(o: BlockOutcome, reason: str, status: str | None = None) -> BlockOutcome:
    return BlockOutcome(o.code, o.title, status or o.status, reason, o.decided_on, o.valid_until,
                        o.reasons, o.recommendations, o.dossier)


@dataclass(frozen=True)
class Delivered:
    """A delivered certificate as stored (`certificate_record`): it never expires."""

    number: str
    delivered_on: date
    blocks: tuple[Mapping[str, Any], ...]  # {code, title, status, decided_on, dossier}


def delivered_outcome(certificate: Delivered) -> Outcome:
    """The outcome of an enrolment whose certificate was delivered: the stored record, whatever
    today's date (validity only limits how long a block counts toward a certificate not yet
    delivered)."""
    blocks = tuple(BlockOutcome(
        b["code"], b["title"], b["status"],
        f"acquis le {_fr(date.fromisoformat(b['decided_on']))}, certificat n° "
        f"{certificate.number}", date.fromisoformat(b["decided_on"]), None,
        dossier=b.get("dossier")) for b in certificate.blocks)
    return Outcome("certificate", f"certificat n° {certificate.number} délivré le "
                   f"{_fr(certificate.delivered_on)}", blocks, certificate.delivered_on)


def certificate_record(*, number: str, enrolment: int, candidate: int, ref: Referential,
                       outcome: Outcome, sessions: Mapping[int, str | None]) -> dict[str, Any]:
    """What a delivered certificate rests on: each block's decision (dossier) or capitalised
    block, the minutes of the sessions that decided (their hashes), the referential version.
    Sealed on its row and in its audit event."""
    return {
        "number": number, "enrolment": enrolment, "candidate": candidate,
        "referential": {"code": ref.code, "version": ref.version, "digest": ref.digest},
        "delivered_on": outcome.delivered_on.isoformat(),
        "blocks": [{"code": b.code, "title": b.title, "status": b.status,
                    "decided_on": b.decided_on.isoformat(), "dossier": b.dossier}
                   for b in outcome.blocks],
        "sessions": [{"session": sid, "minutes_sha256": sha}
                     for sid, sha in sorted(sessions.items())],
    }


def compute_outcome(ref: Referential, held: Iterable[HeldBlock],
                    dossiers: Iterable[DossierRecord], today: date,
                    delivered: Delivered | None = None) -> Outcome:
    """Certificate when every block is validated or held and still valid, one at least by a
    decision of a Carnet jury; after a closed session, a partial validation (the acquired
    blocks and their expiry) or no delivery. A delivered certificate (`delivered`) stays.

    Only decisions of closed sessions are final (the minutes are signed at closing)."""
    if delivered is not None:
        return delivered_outcome(delivered)
    held, dossiers = list(held), list(dossiers)
    blocks = tuple(
        _block_outcome(b, [h for h in held if h.block == b.code],
                       [d for d in dossiers if d.block == b.code], ref.validity_months,
                       today) for b in ref.blocks)
    acquired = [b for b in blocks if b.acquired]
    final_days = [d.decided_on for d in dossiers if d.final and d.decided_on]
    if len(acquired) == len(blocks) and not any(b.status == "validated" for b in acquired):
        return Outcome("partial", "tous les blocs sont acquis, mais aucun par une décision "
                       "d'un jury de la branche : le certificat ne peut être délivré sans elle",
                       blocks, max(final_days) if final_days else None)
    if len(acquired) == len(blocks):
        day = max(b.decided_on for b in acquired)
        return Outcome("certificate", f"certificat délivré le {_fr(day)} : tous les blocs "
                       "sont acquis", blocks, day)
    done = f"{len(acquired)} bloc{'s' if len(acquired) > 1 else ''} sur {len(blocks)} acquis"
    if not final_days:
        return Outcome("in_progress", f"aucune décision définitive du jury ; {done}", blocks,
                       None)
    last = max(final_days)
    if acquired:
        return Outcome("partial", f"validation partielle : {done}", blocks, last)
    return Outcome("not_delivered", "certificat non délivré : aucun bloc acquis", blocks, last)


def outcome_dict(o: Outcome) -> dict[str, Any]:
    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {"outcome": o.kind, "reason": o.reason, "delivered_on": day(o.delivered_on),
            "blocks": [{"code": b.code, "title": b.title, "status": b.status,
                        "reason": b.reason, "acquired": b.acquired,
                        "decided_on": day(b.decided_on), "valid_until": day(b.valid_until),
                        "reasons": b.reasons, "recommendations": b.recommendations,
                        "dossier": b.dossier} for b in o.blocks]}
