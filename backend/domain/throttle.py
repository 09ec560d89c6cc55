"""Login throttling that holds under concurrency, on SQLite and PostgreSQL.

An attempt is *reserved* before the password is checked, by one statement that
increments the key's count only while the count is under its allowance and no
delay runs: a hundred simultaneous guesses get at most `allowance` password
checks, whatever the interleaving. A failure that uses up the allowance starts a
delay that doubles at each further failure (capped at a day), and allows one more
attempt after it.

Three keys are reserved per attempt: (account, client address), so that someone
elsewhere cannot keep the owner out; the client address alone, so that spraying
many accounts from one place is bounded; and the account alone with a higher
allowance, so that many addresses together are bounded too. The owner can lift
the account's lock through a mailed link (`backend.domain.passwords`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend import sql
from backend.errors import TooManyRequests

MAX_DELAY = timedelta(days=1)
# Quiet for this long after a run of delays, a key starts afresh.
FORGIVE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    per_account_address: int
    per_account: int
    per_address: int
    window: timedelta  # the first delay; also how long a few failures are remembered


@dataclass(frozen=True)
class Key:
    value: str
    allowance: int
    scope: str  # "account_address" | "account" | "address"


def keys_for(email: str, address: str, limits: Limits) -> list[Key]:
    def digest(*parts: str) -> str:
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    return [
        Key(digest("address", address), limits.per_address, "address"),
        Key(digest("account+address", email, address), limits.per_account_address,
            "account_address"),
        Key(digest("account", email), limits.per_account, "account"),
    ]


def delay_after(attempts: int, allowance_at_start: int, window: timedelta) -> timedelta:
    """Window, then twice the window, then four times… up to a day."""
    exponent = max(0, attempts - allowance_at_start)
    return min(window * (2 ** min(exponent, 20)), MAX_DELAY)


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


_CREATE = ('INSERT INTO "login_attempt" ("key", "attempts", "allowance", "blocked_until", '
           '"last_at") VALUES (?, 0, ?, 0, 0) ON CONFLICT ("key") DO NOTHING')
# Forget a few old failures (never blocked, quiet for a window) or an old run of
# delays (quiet for a day).
_FORGIVE = ('UPDATE "login_attempt" SET "attempts" = 0, "allowance" = ? '
            'WHERE "key" = ? AND "blocked_until" <= ? '
            'AND (("allowance" = ? AND "last_at" <= ?) OR "last_at" <= ?)')
_RESERVE = ('UPDATE "login_attempt" SET "attempts" = "attempts" + 1, "last_at" = ? '
            'WHERE "key" = ? AND "attempts" < "allowance" AND "blocked_until" <= ? '
            'RETURNING "attempts"')
_BLOCKED_UNTIL = 'SELECT "blocked_until" FROM "login_attempt" WHERE "key" = ?'
_RELEASE = ('UPDATE "login_attempt" SET "attempts" = "attempts" - 1 '
            'WHERE "key" = ? AND "attempts" > 0')
_DELAY = ('UPDATE "login_attempt" SET "blocked_until" = ?, "allowance" = ? '
          'WHERE "key" = ? AND "allowance" <= ?')
_CLEAR = 'DELETE FROM "login_attempt" WHERE "key" = ?'


async def _reserve_one(key: Key, at: datetime, window: timedelta) -> int | None:
    now = _epoch(at)
    await sql.rows(_CREATE, [key.value, key.allowance])
    await sql.rows(_FORGIVE, [key.allowance, key.value, now, key.allowance,
                              now - int(window.total_seconds()),
                              now - int(FORGIVE_AFTER.total_seconds())])
    found = await sql.rows(_RESERVE, [now, key.value, now])
    return found[0]["attempts"] if found else None


async def _retry_after(key: Key, at: datetime, window: timedelta) -> int:
    found = await sql.rows(_BLOCKED_UNTIL, [key.value])
    until = found[0]["blocked_until"] if found else 0
    # Refused while the allowance's last attempts are still being checked: their
    # outcome decides the delay, so say "a window" at most.
    wait = until - _epoch(at) if until > _epoch(at) else int(window.total_seconds())
    return max(1, wait)


@dataclass
class Reservation:
    """Attempt counts held for one login; `failed` applies the delays."""

    held: list[tuple[Key, int]]
    window: timedelta

    async def failed(self, at: datetime) -> list[str]:
        """Start the delays this failure earned; the scopes that became blocked."""
        blocked = []
        for key, attempts in self.held:
            if attempts < key.allowance:
                continue
            # Only the allowance of the row as it is now matters; a stale one no-ops.
            until = at + delay_after(attempts, key.allowance, self.window)
            await sql.rows(_DELAY, [_epoch(until), attempts + 1, key.value, attempts])
            blocked.append(key.scope)
        return blocked

    async def succeeded(self) -> None:
        """The right password: this attempt was no failure, so the wider counts give
        it back, and the (account, address) count starts afresh."""
        for key, _ in self.held:
            await sql.rows(_CLEAR if key.scope == "account_address" else _RELEASE, [key.value])


async def reserve(email: str, address: str, at: datetime, limits: Limits) -> Reservation:
    """One attempt on every key, or TooManyRequests (and nothing held)."""
    held: list[tuple[Key, int]] = []
    for key in keys_for(email, address, limits):
        attempts = await _reserve_one(key, at, limits.window)
        if attempts is None:
            for taken, _ in held:
                await sql.rows(_RELEASE, [taken.value])
            raise TooManyRequests(retry_after=await _retry_after(key, at, limits.window))
        held.append((key, attempts))
    return Reservation(held, limits.window)


async def lift_account(email: str, address: str, limits: Limits) -> None:
    """The owner proved they read their mail: their account's lock and the lock
    on their own address for it go."""
    for key in keys_for(email, address, limits):
        if key.scope in ("account", "account_address"):
            await sql.rows(_CLEAR, [key.value])
