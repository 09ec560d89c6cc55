"""Writing audit events inside the caller's transaction, chained to the last one.

The chain is keyed with the server's secret: each entry point (`create_app`, the `carnet`
command, the demo seeding) calls `use_key(settings.secret_key)` once, before any event is
written or checked. Without it, writing or verifying fails rather than chaining unkeyed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend.domain.audit import (
    GENESIS,
    Anchor,
    ChainFault,
    chain_key,
    check_anchor,
    check_payload,
    event_hash,
    keyed_ok,
    plain_ok,
    verify_chain,
)
from backend.models import AuditEvent, AuditHead

HEAD_ID = 1
_key: bytes | None = None


def use_key(secret_key: str) -> None:
    """Key the chain with the server's secret (from Settings)."""
    global _key
    _key = chain_key(secret_key)


def key() -> bytes:
    if _key is None:
        raise RuntimeError("the audit chain is keyed with the server's secret: call "
                           "audit.use_key(settings.secret_key) at start-up")
    return _key


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
    digest = event_hash(key(), head.last_hash, at, actor_id, action, subject, payload)
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
        return verify_chain(events, key(), GENESIS, 0)
    return verify_chain(events, key(), head.last_hash, head.count)


async def verify_anchors(anchors: list[Anchor]) -> ChainFault | None:
    """The chain verifies and still holds every anchored head."""
    fault = await verify()
    if fault is not None:
        return fault
    events = list(await AuditEvent.all().order_by("id").only("id", "hash"))
    for anchor in anchors:
        if (fault := check_anchor(events, anchor)) is not None:
            return fault
    return None


async def current_anchor(at: datetime) -> Anchor | None:
    """The head to keep outside the database, or None when the chain does not verify."""
    if await verify() is not None:
        return None
    head = await AuditHead.get_or_none(id=HEAD_ID)
    if head is None or head.count == 0:
        return Anchor(0, GENESIS, None, at.isoformat())
    last = await AuditEvent.filter(hash=head.last_hash).only("id").first()
    return Anchor(head.count, head.last_hash, last.id if last else None, at.isoformat())


async def event_trusted(event: AuditEvent) -> bool:
    """One event's content still matches its keyed hash. An event from before the key (plain
    SHA-256) is trusted only while the whole chain verifies: anyone can recompute a plain
    hash, but not the keyed event sealing the prefix it belongs to."""
    if keyed_ok(key(), event):
        return True
    return plain_ok(event) and await _chain_holds()


_verified_head: tuple[bytes, str, int] | None = None  # key and head last verified in full


async def _chain_holds() -> bool:
    """Whether the chain verifies, walking it once per head (not once per event asked about)."""
    global _verified_head
    head = await AuditHead.get_or_none(id=HEAD_ID)
    current = (key(), head.last_hash, head.count) if head else None
    if current is not None and current == _verified_head:
        return True
    if await verify() is not None:
        return False
    _verified_head = current
    return True
