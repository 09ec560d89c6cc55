"""Writing audit events inside the caller's transaction, chained to the last one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend.domain.audit import GENESIS, ChainFault, check_payload, event_hash, verify_chain
from backend.models import AuditEvent, AuditHead

HEAD_ID = 1


async def record(action: str, *, actor_id: int | None, subject: str = "",
                 payload: dict[str, Any] | None = None, connection: Any = None) -> AuditEvent:
    """Append an event. Call it inside the write's own transaction (pass its
    connection) so the event and the change commit together or not at all."""
    payload = payload or {}
    check_payload(payload)
    if connection is None:
        async with in_transaction() as conn:
            return await _append(conn, action, actor_id, subject, payload)
    return await _append(connection, action, actor_id, subject, payload)


async def _append(conn: Any, action: str, actor_id: int | None, subject: str,
                  payload: dict[str, Any]) -> AuditEvent:
    head = await AuditHead.select_for_update().using_db(conn).get(id=HEAD_ID)
    at = datetime.now(UTC)
    digest = event_hash(head.last_hash, at, actor_id, action, subject, payload)
    event = await AuditEvent.create(at=at, actor_id=actor_id, action=action, subject=subject,
                                    payload=payload, prev_hash=head.last_hash, hash=digest,
                                    using_db=conn)
    head.last_hash, head.count = digest, head.count + 1
    await head.save(using_db=conn, update_fields=["last_hash", "count"])
    return event


async def ensure_head() -> None:
    """Create the chain's head row once (at start-up, before any writer races)."""
    await AuditHead.get_or_create(id=HEAD_ID, defaults={"last_hash": GENESIS, "count": 0})


async def verify() -> ChainFault | None:
    events = await AuditEvent.all().order_by("id")
    head = await AuditHead.get_or_none(id=HEAD_ID)
    if head is None:
        return verify_chain(events, GENESIS, 0)
    return verify_chain(events, head.last_hash, head.count)
