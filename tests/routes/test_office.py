"""The office (issue section 5), through HTTP: closing a session asks first and is refused
before its day unless the president confirms an early close; the dashboard lists what
waits; an enrolment waits for a tutor whose invitation is pending."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from backend.auth import utcnow
from backend.models import Dossier, Invitation, JurySession, PendingTutorship, Tutorship
from tests import factories as f


async def test_closing_before_the_session_day_needs_the_presidents_early_close(client):
    w = await f.world()
    w.session.held_on = date.today() + timedelta(days=3)
    await w.session.save()
    await f.login(client, w.jury_employer)  # the president
    page = await client.get(f"/jury-sessions/{w.session.id}")
    assert "La clôture est irréversible." in page.text
    assert 'name="confirm" value="1" required' in page.text
    assert 'name="early" value="1" required' in page.text
    refused = await client.post(f"/jury-sessions/{w.session.id}/close",
                                data={"confirm": "1"})
    assert refused.status_code == 409 and "clôture anticipée" in refused.text
    assert (await JurySession.get(id=w.session.id)).status == "open"
    api = await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert api.status_code == 409 and api.json()["code"] == "jury_session_early"
    closed = await client.post(f"/jury-sessions/{w.session.id}/close",
                               data={"confirm": "1", "early": "1"})
    assert closed.status_code == 303, closed.text
    assert (await JurySession.get(id=w.session.id)).status == "closed"


async def test_the_dashboard_lists_what_waits_with_links(client):
    w = await f.world()
    await Invitation.create(token_hash=uuid.uuid4().hex, email="t@example.test",
                            full_name="Tom Tuteur", role="tutor", organisation=w.company,
                            invited_by=w.admin, expires_at=utcnow() + timedelta(days=3))
    await Dossier.create(enrolment=w.enrolment, block_code="BC01", manifest={},
                         manifest_sha256="0" * 64, submitted_by=w.tutor, submitted_at=utcnow())
    await f.login(client, w.admin)
    html = (await client.get("/admin")).text
    waiting = html.split("data-waiting")[1].split("</section>")[0]
    assert "1 invitation pas encore acceptée" in waiting
    assert "/admin/invitations?status=pending" in waiting
    assert "Dossier BC01" in waiting and f"/admin/jury-sessions/{w.session.id}/dossiers" in waiting
    assert f"/jury-sessions/{w.session.id}\"" in waiting  # held today: to close
    assert "/admin/figures" in html


async def test_an_enrolment_waits_for_an_invited_tutor_until_they_accept(client):
    w = await f.world()
    invitation = await Invitation.create(
        token_hash=uuid.uuid4().hex, email="inv@example.test", full_name="Iris Invitée",
        role="tutor", organisation=w.company, invited_by=w.admin,
        expires_at=utcnow() + timedelta(days=3))
    await f.login(client, w.admin)
    form = (await client.get("/admin/enrolments/new")).text
    assert f'value="invitation:{invitation.id}"' in form
    referential = form.split('id="referential"')[1].split("</select>")[0]
    assert referential.split("<option", 2)[1].startswith(' value=""')  # nothing preselected
    response = await client.post("/admin/enrolments/new", data={
        "candidate": str(w.other_candidate.id), "company": str(w.company.id),
        "referential": "CQP-FIOMB/2026-1", "access_route": "afest",
        "started_on": date.today().isoformat(),
        "tutor": [f"invitation:{invitation.id}"], "designated_on": [""]})
    assert response.status_code == 303, response.text
    enrolment_id = int(response.headers["location"].rstrip("/").split("/")[-1])
    page = (await client.get(f"/admin/enrolments/{enrolment_id}")).text
    assert "Le parcours attend son tuteur" in page and "inv@example.test" in page
    assert await PendingTutorship.filter(enrolment_id=enrolment_id).count() == 1
    # Accepting turns the designation into a tutorship, dated as designated.
    from backend.domain import accounts
    person = await f.person("Iris Invitée")
    person.email = "inv@example.test"
    await person.save()
    await accounts._accept(invitation, person, utcnow(), None)
    tutorship = await Tutorship.get(enrolment_id=enrolment_id, tutor_id=person.id)
    assert tutorship.designated_on == date.today()
    assert await PendingTutorship.filter(enrolment_id=enrolment_id).count() == 0


async def test_pages_about_another_person_keep_the_admins_menu(client):
    w = await f.world()
    await f.login(client, w.admin)
    for url in (f"/admin/people/{w.tutor.id}", "/admin/people",
                f"/admin/companies/{w.company.id}"):
        menu = (await client.get(url)).text.split('<nav class="menu">')[1].split("</nav>")[0]
        assert "/admin" in menu and "/tutor" not in menu, url
