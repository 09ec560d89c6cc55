"""The audit chain's pure part: how an event is hashed and how a chain is checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
# Never logged or chained: an audit payload must not carry secrets.
FORBIDDEN_KEYS = frozenset({"password", "token", "cookie", "secret", "password_hash"})


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def event_hash(prev_hash: str, at: datetime, actor_id: int | None, action: str,
               subject: str, payload: Mapping[str, Any]) -> str:
    body = {"prev": prev_hash, "at": at.isoformat(), "actor": actor_id, "action": action,
            "subject": subject, "payload": payload}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def check_payload(payload: Mapping[str, Any]) -> None:
    bad = FORBIDDEN_KEYS.intersection(k.lower() for k in payload)
    if bad:
        raise ValueError(f"audit payload must not carry {sorted(bad)}")


@dataclass(frozen=True)
class ChainFault:
    event_id: int | None
    message: str


def verify_chain(events: Iterable[Any], head_hash: str | None = None,
                 head_count: int | None = None) -> ChainFault | None:
    """Walk events in id order; name the first one altered, missing or out of order.

    `events` have id, at, actor_id, action, subject, payload, prev_hash, hash.
    The head (last hash and count) catches events deleted from the end."""
    prev, count, last_id = GENESIS, 0, None
    for e in events:
        if e.prev_hash != prev:
            return ChainFault(e.id, f"event {e.id}: previous event missing or reordered "
                                    f"(expected link {prev[:12]}…, found {e.prev_hash[:12]}…)")
        expected = event_hash(e.prev_hash, e.at, e.actor_id, e.action, e.subject, e.payload)
        if expected != e.hash:
            return ChainFault(e.id, f"event {e.id}: content altered ({e.action})")
        prev, count, last_id = e.hash, count + 1, e.id
    if head_hash is not None and head_hash != prev:
        return ChainFault(last_id, f"events missing after event {last_id}")
    if head_count is not None and head_count != count:
        return ChainFault(last_id, f"{head_count - count} event(s) missing")
    return None
