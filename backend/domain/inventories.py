"""The inventory (état des lieux) of a branch's CQPs, by SQL aggregates: a handful of
grouped statements whatever the number of candidates (bench/inventory_pg.py measures them
at 10,000 candidates × 100 observations). Rules and exports are in `inventory.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from tortoise import connections

from backend import sql
from backend.domain import cqps
from backend.domain.inventory import (
    ABANDONED_DAYS,
    ACTIVE_DAYS,
    BlockLine,
    Inventory,
    VersionLine,
)
from backend.domain.referentials import Registry
from backend.models import SIZE_BANDS, Certificate, OpportunityReport, RegisterCertification

# Per enrolment of the branches' companies: its last observation, whether it presented a
# dossier, how many distinct blocks it had validated and when the last one was.
ENROLMENTS = """
SELECT e.referential_code AS code, e.referential_version AS version, e.company_id AS company,
       e.started_on AS started_on, a.last_on AS last_on, d.n AS dossiers,
       v.blocks AS validated_blocks, v.last_at AS validated_at, r.route AS route
FROM enrolment e
JOIN organisation c ON c.id = e.company_id
LEFT JOIN candidate_route r ON r.enrolment_id = e.id
LEFT JOIN (SELECT o.enrolment_id, MAX(o.observed_on) AS last_on FROM observation o
           GROUP BY o.enrolment_id) a ON a.enrolment_id = e.id
LEFT JOIN (SELECT s.enrolment_id, COUNT(*) AS n FROM dossier s GROUP BY s.enrolment_id) d
       ON d.enrolment_id = e.id
LEFT JOIN (SELECT s.enrolment_id, COUNT(DISTINCT s.block_code) AS blocks,
                  MAX(k.decided_at) AS last_at
           FROM decision k JOIN dossier s ON s.id = k.dossier_id
           WHERE k.outcome = 'validated' GROUP BY s.enrolment_id) v ON v.enrolment_id = e.id
WHERE c.branch_id IN ({branches})
"""

COUNTS = """
SELECT x.code, x.version, COUNT(*) AS enrolled,
       SUM(CASE WHEN x.last_on >= ? THEN 1 ELSE 0 END) AS active,
       SUM(CASE WHEN x.dossiers > 0 THEN 1 ELSE 0 END) AS presented,
       SUM(CASE WHEN x.validated_blocks > 0 THEN 1 ELSE 0 END) AS with_validated,
       SUM(CASE WHEN x.route = 'employee' THEN 1 ELSE 0 END) AS employees,
       SUM(CASE WHEN x.route = 'job_seeker' THEN 1 ELSE 0 END) AS job_seekers,
       COUNT(DISTINCT x.company) AS companies
FROM ({enrolments}) x GROUP BY x.code, x.version
"""

# Candidates with at least as many validated blocks as their version has: certified, with
# their start day and the time of their last validation (few rows: percentiles in Python).
CERTIFIED = """
SELECT x.code, x.version, x.started_on, x.validated_at, x.last_on, x.validated_blocks
FROM ({enrolments}) x
WHERE x.validated_blocks IS NOT NULL OR x.last_on IS NULL OR x.last_on < ?
"""

SIZES = """
SELECT COALESCE(z.band, 'unknown') AS band, COUNT(DISTINCT c.id) AS companies
FROM enrolment e
JOIN organisation c ON c.id = e.company_id
LEFT JOIN company_size z ON z.company_id = c.id
WHERE c.branch_id IN ({branches})
GROUP BY COALESCE(z.band, 'unknown')
"""

BLOCKS = """
SELECT e.referential_code AS code, e.referential_version AS version, s.block_code AS block,
       COUNT(DISTINCT s.enrolment_id) AS presented,
       COUNT(DISTINCT CASE WHEN k.outcome = 'validated' THEN s.enrolment_id END) AS validated,
       COUNT(k.id) AS decisions,
       SUM(CASE WHEN k.outcome = 'validated' THEN 1 ELSE 0 END) AS validated_decisions
FROM dossier s
JOIN enrolment e ON e.id = s.enrolment_id
JOIN organisation c ON c.id = e.company_id
LEFT JOIN decision k ON k.dossier_id = s.id
WHERE c.branch_id IN ({branches})
GROUP BY e.referential_code, e.referential_version, s.block_code
"""

# A criterion observed once in a version: one indexed probe per criterion, stopping at the
# first observation that rates it.
RATED = {
    "postgres": "EXISTS (SELECT 1 FROM observation o JOIN enrolment e ON e.id = o.enrolment_id "
                "WHERE e.referential_code = ? AND o.referential_version = ? "
                "AND (o.ratings::jsonb) ?| ?)",
    "sqlite": "EXISTS (SELECT 1 FROM observation o JOIN enrolment e ON e.id = o.enrolment_id "
              "WHERE e.referential_code = ? AND o.referential_version = ? "
              "AND json_type(o.ratings, '$.\"' || ? || '\"') IS NOT NULL)",
}


def _placeholders(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "-1"


async def _never_observed(code: str, version: str, criteria: Sequence[str]) -> tuple[str, ...]:
    """The criteria of a version no observation has rated (one probe per criterion)."""
    if not criteria:
        return ()
    dialect = connections.get("default").capabilities.dialect
    postgres = dialect == "postgres"
    probe = RATED["postgres" if postgres else "sqlite"]
    select = " UNION ALL ".join(f"SELECT {i} AS i, CASE WHEN {probe} THEN 1 ELSE 0 END AS seen"
                                for i in range(len(criteria)))
    params: list = []
    for c in criteria:
        params += [code, version, [c] if postgres else c]
    seen = {int(r["i"]) for r in await _run(select, params, dialect) if r["seen"]}
    return tuple(c for i, c in enumerate(criteria) if i not in seen)


async def _run(statement: str, params: list, dialect: str) -> list[dict]:
    client = connections.get("default")
    if dialect != "postgres":
        return await client.execute_query_dict(statement, params)
    # Number the placeholders, leaving the jsonb operator `?|` alone.
    out, n, i = [], 0, 0
    while i < len(statement):
        if statement.startswith("?|", i):
            out.append("?|")
            i += 2
        elif statement[i] == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(statement[i])
            i += 1
    return await client.execute_query_dict("".join(out), params)


async def inventory(branch_ids: Sequence[int], registry: Registry, today: date) -> Inventory:
    """Every loaded version of the CQPs the branches manage (or that no branch claimed)."""
    branches = _placeholders(branch_ids)
    enrolments = ENROLMENTS.format(branches=branches)
    client = connections.get("default")
    dialect = client.capabilities.dialect
    counts = {(r["code"], r["version"]): r for r in await _run(
        COUNTS.format(enrolments=enrolments), [today - timedelta(days=ACTIVE_DAYS)], dialect)}
    cutoff = today - timedelta(days=ABANDONED_DAYS)
    certified: dict[tuple[str, str], list[int]] = defaultdict(list)
    abandoned: dict[tuple[str, str], int] = defaultdict(int)
    for r in await _run(CERTIFIED.format(enrolments=enrolments), [cutoff], dialect):
        ref = registry.find(r["code"], r["version"])
        needed = len(ref.blocks) if ref else None
        started = sql.as_date(r["started_on"])
        if needed and (r["validated_blocks"] or 0) >= needed:
            done = sql.as_datetime(r["validated_at"]).date()
            certified[(r["code"], r["version"])].append(max((done - started).days, 0))
        elif started < cutoff and (r["last_on"] is None or sql.as_date(r["last_on"]) < cutoff):
            abandoned[(r["code"], r["version"])] += 1
    blocks: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in await _run(BLOCKS.format(branches=branches), [], dialect):
        blocks[(r["code"], r["version"])][r["block"]] = r

    states = await cqps.version_states(registry)
    elsewhere = set(await Certificate.exclude(branch_id=None)
                    .filter(branch_id__not_in=list(branch_ids) or [-1])
                    .values_list("code", flat=True))
    reports = dict(await OpportunityReport.all().values_list("certificate__code", "state"))
    numbers = [r.register.number for r in registry.all() if r.register.number]
    ends = dict(await RegisterCertification.filter(number__in=numbers)
                .values_list("number", "ends_on"))
    result = Inventory(today=today)
    for key, state in states.items():
        ref = state.referential
        if ref.code in elsewhere:
            continue
        c = counts.get(key, {})
        by_block = blocks.get(key, {})
        result.versions.append(VersionLine(
            code=ref.code, version=ref.version, title=ref.title, status=state.status,
            opened_on=state.opened_on, closed_on=state.closed_on,
            withdrawn_on=state.withdrawn_on, register_kind=ref.register.kind,
            register_number=ref.register.number,
            register_ends_on=ends.get(ref.register.number or ""),
            report_state=reports.get(ref.code),
            enrolled=int(c.get("enrolled") or 0), active=int(c.get("active") or 0),
            presented=int(c.get("presented") or 0),
            with_validated_block=int(c.get("with_validated") or 0),
            certified=len(certified[key]), abandoned=abandoned[key],
            employees=int(c.get("employees") or 0),
            job_seekers=int(c.get("job_seekers") or 0),
            route_unknown=int(c.get("enrolled") or 0) - int(c.get("employees") or 0)
            - int(c.get("job_seekers") or 0),
            companies=int(c.get("companies") or 0),
            blocks=tuple(BlockLine(
                b.code, b.title, int(by_block.get(b.code, {}).get("presented") or 0),
                int(by_block.get(b.code, {}).get("validated") or 0),
                int(by_block.get(b.code, {}).get("decisions") or 0),
                int(by_block.get(b.code, {}).get("validated_decisions") or 0))
                for b in ref.blocks),
            days_to_certification=tuple(sorted(certified[key])),
            never_observed=await _never_observed(ref.code, ref.version,
                                                 [k.code for k in ref.criteria()])
            if c else tuple(k.code for k in ref.criteria()),
        ))
    order = {band: i for i, band in enumerate(SIZE_BANDS)}
    sizes = await _run(SIZES.format(branches=branches), [], dialect)
    result.companies_by_band = {r["band"]: int(r["companies"]) for r in sorted(
        sizes, key=lambda r: order.get(r["band"], len(order)))}
    return result
