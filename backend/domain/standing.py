"""Where enrolments stand: the rules engine's inputs read from the database, and branch figures.

The rules are pure (`backend.domain.progress`); this module only reads. One query per table
whatever the number of observations (observations, photos, held blocks, dossiers with their
decision), rows read as plain values: building hundreds of model instances would cost more
than the rules themselves.

What counts (docs/domain.md):
- a superseded observation is kept but never counts, only the row correcting it;
- ratings count from production observations by a tutor (candidates only write reflections);
- a photo counts as expected evidence when a counting observation cites it with a competency
  and the label of an evidence item of the referential, and the photo has been received;
- a reflection counts for the block it names, whoever wrote it (tutor or candidate).

Records made against an earlier version of the referential count by identical codes, which
is what `progress.map_to_version` carries: the engine ignores codes the version lacks.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from backend import sql
from backend.domain.progress import (
    BLOCK_STATES,
    BlockDecision,
    BlockProgress,
    EnrolmentProgress,
    EvidenceItem,
    HeldBlock,
    RatingEvent,
    ReflectionItem,
    compute_progress,
)
from backend.domain.referentials import Criterion, Referential, Registry
from backend.models import Dossier, Enrolment, Observation, Photo
from backend.models import HeldBlock as HeldBlockRow

PARIS = ZoneInfo("Europe/Paris")

# Columns the rules need; the timeline adds what a person reads.
PROGRESS_FIELDS = ("id", "kind", "author_role", "observed_on", "created_at", "ratings", "photos",
                   "block_code", "supersedes_id")
TIMELINE_FIELDS = (*PROGRESS_FIELDS, "situation", "place", "comment", "referential_version",
                   "author__full_name")
HELD_FIELDS = ("block_code", "decided_on", "referential_version")
DOSSIER_FIELDS = ("block_code", "submitted_at", "decision__outcome", "decision__decided_at")


@dataclass(frozen=True)
class Records:
    """One enrolment's evidence and decisions, as the rules engine takes them."""

    ratings: tuple[RatingEvent, ...]
    evidence: tuple[EvidenceItem, ...]
    reflections: tuple[ReflectionItem, ...]
    held: tuple[HeldBlock, ...]
    decisions: tuple[BlockDecision, ...]
    # Observations and reflections that count, newest first: the timeline.
    observations: tuple[dict[str, Any], ...] = ()
    received: frozenset[str] = frozenset()  # photos of the enrolment received by the server
    by_candidate: frozenset[str] = frozenset()  # those the candidate sent
    # Day of the earliest counting observation citing each received photo.
    photo_days: dict[str, date] = field(default_factory=dict)
    # Day each block was first sent to a jury.
    first_submitted: dict[str, date] = field(default_factory=dict)

    def progress(self, ref: Referential, today: date) -> EnrolmentProgress:
        return compute_progress(ref, self.ratings, self.evidence, self.reflections, self.held,
                                self.decisions, today)


def french_day(at: datetime) -> date:
    """Decisions and submissions are dated by the French calendar day."""
    return at.astimezone(PARIS).date()


def counting(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that count: every row but those another row supersedes."""
    rows = list(rows)
    superseded = {r["supersedes_id"] for r in rows if r["supersedes_id"] is not None}
    return [r for r in rows if r["id"] not in superseded]


def build_records(ref: Referential, rows: Iterable[dict[str, Any]],
                  photos: Iterable[tuple[Any, str]], held: Iterable[tuple[str, date, str]],
                  dossiers: Iterable[tuple[str, datetime, str | None, datetime | None]]
                  ) -> Records:
    """Pure: database values in (observation rows as dicts, photos as (id, author_role), held
    blocks and dossiers as HELD_FIELDS / DOSSIER_FIELDS tuples), engine records out."""
    live = counting(rows)
    received = {str(pid): role for pid, role in photos}
    kinds = {(c.code, e.label): e.kind for c in ref.competencies() for e in c.evidence}
    ratings, evidence, reflections = [], [], []
    photo_days: dict[str, date] = {}
    for row in live:
        oid = str(row["id"])
        if row["kind"] == "reflection":
            if row["block_code"]:
                reflections.append(ReflectionItem(oid, row["block_code"], row["observed_on"]))
        elif row["author_role"] != "candidate":
            ratings += [RatingEvent(oid, row["observed_on"], row["created_at"], code, value)
                        for code, value in row["ratings"].items()]
        for item in _evidence(row, kinds, received):
            evidence.append(item)
            day = photo_days.get(item.photo_id)
            photo_days[item.photo_id] = min(day, row["observed_on"]) if day else row["observed_on"]
    live.sort(key=lambda r: (r["observed_on"], r["created_at"], str(r["id"])), reverse=True)
    decisions, first_submitted = _decisions(dossiers)
    return Records(
        ratings=tuple(ratings), evidence=tuple(evidence), reflections=tuple(reflections),
        held=tuple(HeldBlock(b, d, v) for b, d, v in held), decisions=decisions,
        observations=tuple(live), received=frozenset(received),
        by_candidate=frozenset(p for p, role in received.items() if role == "candidate"),
        photo_days=photo_days, first_submitted=first_submitted)


def _evidence(row: dict[str, Any], kinds: dict[tuple[str, str], str],
              received: dict[str, str]) -> Iterable[EvidenceItem]:
    for ref in row["photos"]:
        key = (ref.get("competency"), ref.get("evidence"))
        if ref["id"] in received and key in kinds:
            yield EvidenceItem(ref["id"], key[0], key[1], kinds[key])


def _decisions(dossiers: Iterable[tuple[str, datetime, str | None, datetime | None]]
               ) -> tuple[tuple[BlockDecision, ...], dict[str, date]]:
    decisions, first = [], {}
    for block, submitted_at, outcome, decided_at in dossiers:
        if outcome is None:  # a dossier without decision is at the jury
            decisions.append(BlockDecision(block, "submitted", None))
        else:
            decisions.append(BlockDecision(block, outcome, french_day(decided_at)))
        day = french_day(submitted_at)
        first[block] = min(first.get(block, day), day)
    return tuple(decisions), first


@cache
def observation_sql(fields: tuple[str, ...]) -> str:
    """The enrolment's observations with `fields` (`author__full_name` joins the author)."""
    columns = ", ".join('a."full_name" AS "author__full_name"' if f == "author__full_name"
                        else f'o."{f}"' for f in fields)
    join = ' LEFT JOIN "person" a ON a."id" = o."author_id"' if "author__full_name" in fields \
        else ""
    return f'SELECT {columns} FROM "observation" o{join} WHERE o."enrolment_id" = ?'


# The enrolment's received photos, held blocks and dossiers (with their decision) in one
# statement: three round trips cost more than the rows. A decision counts once its session
# is closed: before, the candidate and the tutor see the block at the jury. Each kind fills
# its own columns, so every column keeps its type (PostgreSQL types a UNION column from its
# first branches, hence the typed NULLs).
STANDING_SQL = (
    'SELECT \'photo\' AS "kind", "id" AS "photo", "author_role" AS "role", NULL AS "block", '
    'CAST(NULL AS DATE) AS "day", NULL AS "version", '
    'CAST(NULL AS TIMESTAMPTZ) AS "submitted_at", NULL AS "outcome", '
    'CAST(NULL AS TIMESTAMPTZ) AS "decided_at" FROM "photo" WHERE "enrolment_id" = ? '
    'UNION ALL SELECT \'held\', NULL, NULL, "block_code", "decided_on", '
    '"referential_version", NULL, NULL, NULL FROM "held_block" WHERE "enrolment_id" = ? '
    'UNION ALL SELECT \'dossier\', NULL, NULL, d."block_code", NULL, NULL, d."submitted_at", '
    'c."outcome", c."decided_at" FROM "dossier" d '
    'LEFT JOIN "decision" c ON c."dossier_id" = d."id" AND EXISTS (SELECT 1 FROM '
    '"jury_session" j WHERE j."id" = d."session_id" AND j."status" = \'closed\') '
    'WHERE d."enrolment_id" = ?')


async def standing_rows(enrolment_id: int, conn: Any = None
                        ) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(photos, held, dossiers) as `build_records` takes them."""
    photos, held, dossiers = [], [], []
    for row in await sql.rows(STANDING_SQL, [enrolment_id] * 3, conn):
        if row["kind"] == "photo":
            photos.append((row["photo"], row["role"]))
        elif row["kind"] == "held":
            held.append((row["block"], sql.as_date(row["day"]), row["version"]))
        else:
            dossiers.append((row["block"], sql.as_datetime(row["submitted_at"]), row["outcome"],
                             sql.as_datetime(row["decided_at"])))
    return photos, held, dossiers


async def observation_rows(enrolment_id: int, fields: Sequence[str], conn: Any = None
                           ) -> list[dict[str, Any]]:
    """The enrolment's observations as plain dicts, typed like `.values()` would give them.

    For 300 observations the ORM's query building and per-value conversion cost several
    times the query itself, the bulk of a progress request (backend/sql.py).
    """
    found = await sql.rows(observation_sql(tuple(fields)), [enrolment_id], conn)
    return [_decoded(row) for row in found]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row["ratings"], row["photos"] = _json(row["ratings"]), _json(row["photos"])
    row["observed_on"] = sql.as_date(row["observed_on"])
    row["created_at"] = sql.as_datetime(row["created_at"])
    return row


def _json(value: Any) -> Any:
    """JSON columns come as text from both drivers; most observations carry no photo."""
    if not isinstance(value, str):
        return value
    return [] if value == "[]" else json.loads(value)


async def load_records(enrolment_id: int, ref: Referential, *, timeline: bool = False,
                       conn: Any = None) -> Records:
    """Two queries, whatever the number of observations. `timeline` adds the columns the
    enrolment page shows (situation, comment, author's name)."""
    rows = await observation_rows(enrolment_id, TIMELINE_FIELDS if timeline else PROGRESS_FIELDS,
                                  conn)
    photos, held, dossiers = await standing_rows(enrolment_id, conn)
    return build_records(ref, rows, photos, held, dossiers)


async def load_progress(enrolment: Enrolment, registry: Registry, today: date
                        ) -> EnrolmentProgress:
    """Progress of `enrolment` against its referential version, as of `today`."""
    ref = registry.get(enrolment.referential_code, enrolment.referential_version)
    return (await load_records(enrolment.id, ref)).progress(ref, today)


# Branch figures -------------------------------------------------------------------------------

# States a block passes through after being ready: its readiness date can be estimated.
REACHED_READY = ("ready", "submitted", "validated", "not_validated")


@dataclass(frozen=True)
class BlockFigures:
    code: str
    title: str
    by_state: dict[str, int]  # every state of BLOCK_STATES, in that order
    median_days: float | None  # enrolment start → ready for the jury
    samples: int  # blocks behind the median


@dataclass(frozen=True)
class VersionFigures:
    referential: Referential
    enrolments: int
    blocks: tuple[BlockFigures, ...]
    never_observed: tuple[Criterion, ...]  # by no candidate of this version
    median_days: float | None
    samples: int


def ready_on(block: BlockProgress, records: Records, ref: Referential) -> date | None:
    """Estimated first day `block` was ready for the jury, None when it never was.

    The exact day would need the rules replayed day by day; the estimate is the day of the
    last record the readiness needs: the latest rating of each essential criterion, the
    reflection that reached the minimum, and the photo that reached each evidence minimum
    (earliest first). A later observation of an already acquired criterion moves it later, so
    the day of the block's first dossier caps it when earlier. Held blocks come from an earlier
    decision: they have no readiness day in this enrolment.
    """
    if block.state not in REACHED_READY:
        return None
    days = [k.last_observed_on for c in block.competencies for k in c.criteria
            if k.essential and k.last_observed_on]
    reflections = sorted(r.observed_on for r in records.reflections if r.block == block.code)
    needed = ref.rules.block_min_reflections
    if needed and len(reflections) >= needed:
        days.append(reflections[needed - 1])
    for c in block.competencies:
        for e in c.evidence:
            cited = sorted(records.photo_days[p] for p in e.photos if p in records.photo_days)
            if e.min and len(cited) >= e.min:
                days.append(cited[e.min - 1])
    estimate = max(days, default=None)
    submitted = records.first_submitted.get(block.code)
    if submitted and (estimate is None or submitted < estimate):
        return submitted
    return estimate


def version_figures(ref: Referential, enrolments: Sequence[tuple[date, Records]],
                    today: date) -> VersionFigures:
    """Pure: the figures of one referential version over its enrolments (start day, records)."""
    counts = {b.code: dict.fromkeys(BLOCK_STATES, 0) for b in ref.blocks}
    delays: dict[str, list[int]] = defaultdict(list)
    observed: set[str] = set()
    for started_on, records in enrolments:
        progress = records.progress(ref, today)
        for block in progress.blocks:
            counts[block.code][block.state] += 1
            observed.update(k.code for c in block.competencies for k in c.criteria
                            if k.ratings_count)
            day = ready_on(block, records, ref)
            if day is not None:
                delays[block.code].append(max((day - started_on).days, 0))
    everything = [d for b in ref.blocks for d in delays[b.code]]
    return VersionFigures(
        referential=ref, enrolments=len(enrolments),
        blocks=tuple(BlockFigures(b.code, b.title, counts[b.code], _median(delays[b.code]),
                                  len(delays[b.code])) for b in ref.blocks),
        never_observed=tuple(k for k in ref.criteria() if k.code not in observed),
        median_days=_median(everything), samples=len(everything))


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


async def branch_figures(branch_ids: Sequence[int], registry: Registry, today: date
                         ) -> list[VersionFigures]:
    """Figures per referential version over the enrolments of the branches' companies.

    Five queries whatever the size of the branches: each table read once, grouped here.
    Enrolments pinned to a version that is no longer loaded are left out.
    """
    in_branches = {"enrolment__company__branch_id__in": list(branch_ids) or [-1]}
    enrolments = await Enrolment.filter(company__branch_id__in=list(branch_ids) or [-1]).values(
        "id", "referential_code", "referential_version", "started_on")
    rows = await Observation.filter(**in_branches).values("enrolment_id", *PROGRESS_FIELDS)
    photos = await Photo.filter(**in_branches).values_list("enrolment_id", "id", "author_role")
    held = await HeldBlockRow.filter(**in_branches).values_list("enrolment_id", *HELD_FIELDS)
    dossiers = await Dossier.filter(**in_branches).values_list("enrolment_id", *DOSSIER_FIELDS)
    grouped = {name: _group(values) for name, values in
               (("photos", photos), ("held", held), ("dossiers", dossiers))}
    rows_by = defaultdict(list)
    for row in rows:
        rows_by[row["enrolment_id"]].append(row)
    by_version: dict[tuple[str, str], list[tuple[date, Records]]] = defaultdict(list)
    for e in enrolments:
        ref = registry.find(e["referential_code"], e["referential_version"])
        if ref is None:
            continue
        records = build_records(ref, rows_by[e["id"]], grouped["photos"][e["id"]],
                                grouped["held"][e["id"]], grouped["dossiers"][e["id"]])
        by_version[ref.key].append((e["started_on"], records))
    return [version_figures(ref, by_version[ref.key], today) for ref in registry.all()
            if ref.key in by_version]


def _group(values: Iterable[tuple]) -> defaultdict[int, list[tuple]]:
    """(enrolment_id, *rest) tuples grouped by enrolment."""
    grouped: defaultdict[int, list[tuple]] = defaultdict(list)
    for enrolment_id, *rest in values:
        grouped[enrolment_id].append(tuple(rest))
    return grouped
