"""One phone, two tutors of the same enrolment: each item of the outbox is sent
only under its author's session and credited to its author."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.browser.conftest import (
    SECOND_TUTOR,
    TUTOR,
    controlled,
    fill_observation,
    log_in,
    save,
    wait_pending,
)

pytestmark = pytest.mark.browser

OUTBOX_AUTHORS = """async () => {
    const outbox = await import('/static/js/outbox.js');
    const items = [...await outbox.listObservations(), ...await outbox.listPhotos()];
    return items.map((i) => i.author && i.author.id);
}"""

TRY_DELETE = """async (id) => {
    const sync = await import('/static/js/sync.js');
    try {
        await sync.dropMine(id);
        return 'deleted';
    } catch (error) {
        return error.message;
    }
}"""


def person_id(server, email: str) -> int:
    return server.rows("SELECT id FROM person WHERE email = ?", email)[0][0]


def authored(server, situation: str) -> list[tuple]:
    return server.rows("SELECT id, author_id FROM observation WHERE situation = ?", situation)


async def log_out(page) -> None:
    await page.goto("/tutor")
    await page.click("[data-logout] summary")  # « Se déconnecter » asks first
    await page.click("form[action='/logout'] button")
    await page.wait_for_url("**/login")


async def until(predicate, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_items_wait_for_their_author_on_a_shared_phone(context, server, small_photos):
    tutor_a, tutor_b = person_id(server, TUTOR), person_id(server, SECOND_TUTOR)
    observe = f"/enrolments/{server.enrolment_id}/observe"
    page = await context.new_page()
    await log_in(page, observe)
    await controlled(page)
    situation = f"Saisie de A {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C1.1.a": "met"}, photos=small_photos[:1])
    await save(page)
    await wait_pending(page, 2)
    assert await page.evaluate(OUTBOX_AUTHORS) == [tutor_a, tutor_a]
    [item_id] = await page.evaluate("async () => (await (await import("
                                    "'/static/js/outbox.js')).listObservations()).map(o => o.id)")

    # A logs out before the network let anything through: the items stay.
    async def refuse(route):
        await route.abort()
    await context.route("**/api/v1/**", refuse)
    await context.set_offline(False)
    await log_out(page)
    await context.unroute("**/api/v1/**", refuse)

    # B logs in on the same phone, online: A's items are not sent under B's session.
    await log_in(page, observe, email=SECOND_TUTOR)
    notice = page.locator("[data-others] p.alert")
    await notice.wait_for()
    assert await notice.inner_text() == "2 éléments de Thierry Tuteur en attente"
    await page.evaluate("async () => (await import('/static/js/sync.js')).syncNow()")
    phase = await page.evaluate("async () => (await import('/static/js/sync.js')).state.phase")
    assert phase == "idle"
    assert authored(server, situation) == []
    assert "Tout est envoyé" in await page.inner_text("[data-pending]")

    # B can neither delete them nor send them as a correction…
    refusal = await page.evaluate(TRY_DELETE, item_id)
    assert "saisi par Thierry Tuteur" in refusal
    assert len(await page.evaluate(OUTBOX_AUTHORS)) == 2
    # …but B's own observation goes, credited to B.
    own = f"Saisie de B {uuid.uuid4().hex[:8]}"
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
    await fill_observation(page, own, ratings={"C1.1.b": "met"})
    await save(page)
    await until(lambda: len(authored(server, own)) == 1)
    assert authored(server, own)[0][1] == tutor_b
    assert authored(server, situation) == []

    # A logs back in: A's items leave, credited to A.
    await log_out(page)
    await log_in(page, observe)
    await wait_pending(page, 0, timeout_ms=30_000)
    await until(lambda: len(authored(server, situation)) == 1)
    assert authored(server, situation)[0][1] == tutor_a
    assert await page.locator("[data-others]").is_hidden()
    photo_authors = server.rows(
        "SELECT uploaded_by_id FROM photo WHERE lower(id) IN (SELECT lower(json_extract(j.value, "
        "'$.id')) FROM observation, json_each(observation.photos) j WHERE situation = ?)",
        situation)
    assert photo_authors == [(tutor_a,)]
