"""The audit chain's pure part: how an event is hashed, how a chain is checked, and the anchor
an operator keeps outside the database.

Each event's hash is an HMAC-SHA256, keyed with a key derived from the server's secret, over
the previous hash and the event's content: someone with only database access can edit rows
but cannot recompute the hashes that follow. Chains written before the key existed hashed with
plain SHA-256; such events are accepted only as a prefix sealed by a keyed event after them
(whose own hash covers the link to the last plain one)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
# Never logged or chained: an audit payload must not carry secrets.
FORBIDDEN_KEYS = frozenset({"password", "token", "cookie", "secret", "password_hash"})
# Domain separation: the same secret also hashes session and invitation tokens.
CHAIN_KEY_LABEL = b"carnet audit chain v1"
ANCHOR_FORMAT = "carnet-audit-anchor/1"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def chain_key(secret_key: str) -> bytes:
    if not secret_key:
        raise ValueError("the audit chain needs the server's secret key")
    return hmac.new(secret_key.encode(), CHAIN_KEY_LABEL, hashlib.sha256).digest()


def _event_body(prev_hash: str, at: datetime, actor_id: int | None, action: str,
                subject: str, payload: Mapping[str, Any]) -> bytes:
    return canonical_json({"prev": prev_hash, "at": at.isoformat(), "actor": actor_id,
                           "action": action, "subject": subject, "payload": payload})


def event_hash(key: bytes, prev_hash: str, at: datetime, actor_id: int | None, action: str,
               subject: str, payload: Mapping[str, Any]) -> str:
    body = _event_body(prev_hash, at, actor_id, action, subject, payload)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def plain_event_hash(prev_hash: str, at: datetime, actor_id: int | None, action: str,
                     subject: str, payload: Mapping[str, Any]) -> str:
    """How events were hashed before the chain was keyed (read only, never written)."""
    return hashlib.sha256(_event_body(prev_hash, at, actor_id, action, subject,
                                      payload)).hexdigest()


def _fields(e: Any) -> tuple:
    return (e.prev_hash, e.at, e.actor_id, e.action, e.subject, e.payload)


def keyed_ok(key: bytes, e: Any) -> bool:
    """The event's content still hashes, with the key, to its recorded hash."""
    return hmac.compare_digest(event_hash(key, *_fields(e)), e.hash)


def plain_ok(e: Any) -> bool:
    return plain_event_hash(*_fields(e)) == e.hash


def check_payload(payload: Mapping[str, Any]) -> None:
    bad = FORBIDDEN_KEYS.intersection(k.lower() for k in payload)
    if bad:
        raise ValueError(f"audit payload must not carry {sorted(bad)}")


@dataclass(frozen=True)
class ChainFault:
    event_id: int | None
    message: str


def verify_chain(events: Iterable[Any], key: bytes, head_hash: str | None = None,
                 head_count: int | None = None) -> ChainFault | None:
    """Walk events in id order; name the first one altered, missing or out of order.

    `events` have id, at, actor_id, action, subject, payload, prev_hash, hash.
    The head (last hash and count) catches events deleted from the end."""
    prev, count, last_id, keyed = GENESIS, 0, None, False
    for e in events:
        if e.prev_hash != prev:
            return ChainFault(e.id, f"event {e.id}: previous event missing or reordered "
                                    f"(expected link {prev[:12]}…, found {e.prev_hash[:12]}…)")
        if keyed_ok(key, e):
            keyed = True
        elif keyed or not plain_ok(e):
            return ChainFault(e.id, f"event {e.id}: content altered ({e.action})")
        prev, count, last_id = e.hash, count + 1, e.id
    if count and not keyed:
        # Every event verifies with plain SHA-256 only: recomputed without the key, or a
        # database from before the key whose next event has not yet sealed it.
        return ChainFault(last_id, f"no event verifies with the server's key (last event "
                                   f"{last_id}): the chain was recomputed without it")
    if head_hash is not None and head_hash != prev:
        return ChainFault(last_id, f"events missing after event {last_id}")
    if head_count is not None and head_count != count:
        return ChainFault(last_id, f"{head_count - count} event(s) missing")
    return None


# Anchors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment: its `count`-th event hashed to `hash`."""

    count: int
    hash: str
    event: int | None  # id of that event (a help for the operator; the count decides)
    at: str  # when the anchor was taken (ISO 8601)


def anchor_line(anchor: Anchor) -> str:
    return json.dumps({"format": ANCHOR_FORMAT, "count": anchor.count, "hash": anchor.hash,
                       "event": anchor.event, "at": anchor.at}, separators=(",", ":"))


def parse_anchor(line: str) -> Anchor:
    """An anchor from one line printed by `anchor_line`; ValueError naming what is wrong."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not an anchor line (invalid JSON: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise ValueError(f"not an anchor line (format is not {ANCHOR_FORMAT})")
    count, digest = data.get("count"), data.get("hash")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0 \
            or not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("not an anchor line (count or hash missing or malformed)")
    return Anchor(count, digest, data.get("event"), str(data.get("at", "")))


def check_anchor(events: list[Any], anchor: Anchor) -> ChainFault | None:
    """The chain (already verified, in id order) still holds the anchored head at its count:
    a truncation, or a rewrite of any event up to it, fails."""
    taken = f"anchor of {anchor.at} ({anchor.count} events, hash {anchor.hash[:12]}…)"
    if anchor.count == 0:
        return None if anchor.hash == GENESIS else ChainFault(None, f"{taken}: malformed")
    if len(events) < anchor.count:
        last = events[-1].id if events else None
        return ChainFault(last, f"{taken}: the chain holds only {len(events)} events, "
                                f"{anchor.count - len(events)} removed since")
    e = events[anchor.count - 1]
    if e.hash != anchor.hash:
        return ChainFault(e.id, f"{taken}: event {e.id}, number {anchor.count} in the chain, "
                                f"hashes to {e.hash[:12]}…: the chain was rewritten up to it")
    return None
