import asyncio
from datetime import timedelta

import httpx

from backend.auth import utcnow
from backend.domain import accounts
from backend.models import AuditEvent, LoginSession
from tests import factories as f


async def test_login_sets_an_opaque_host_cookie_that_is_secure_httponly_and_lax(client):
    tutor = await f.person()
    response = await f.login(client, tutor)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-carnet=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert tutor.email not in token and len(token) >= 40
    stored = await LoginSession.all().values_list("token_hash", flat=True)
    assert token not in stored  # only its hash is kept


async def test_plain_http_on_loopback_gets_a_dev_cookie_without_secure(app):
    who = await f.person()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        response = await f.login(c, who)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("carnet=") and "Secure" not in cookie
        assert (await c.get("/api/v1/me")).status_code == 200


async def test_plain_http_on_another_host_gets_a_page_saying_why_login_cannot_work(app):
    """Not a silent logout: the Secure cookie would be dropped, so the page says so
    (backend/proxy.py); liveness still answers."""
    who = await f.person()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://carnet.example") as c:
        page = await c.get("/login")
        assert page.status_code == 403 and "HTTPS" in page.text
        assert "--forwarded-allow-ips" in page.text
        response = await c.post("/api/v1/session", json={"email": who.email,
                                                          "password": f.PASSWORD})
        assert response.status_code == 403 and response.json()["code"] == "https_required"
        assert "set-cookie" not in response.headers
        assert (await c.get("/health")).status_code == 200


async def test_me_names_the_person_and_their_roles(client):
    w = await f.world()
    await f.login(client, w.tutor)
    body = (await client.get("/api/v1/me")).json()
    assert body["email"] == w.tutor.email
    assert body["roles"]["tutor"] == [w.enrolment.id]
    assert body["roles"]["candidate"] == [] and body["roles"]["admin"] == []


async def test_me_without_a_session_is_401(client):
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_the_token_changes_at_every_login(client):
    who = await f.person()
    first = (await f.login(client, who)).cookies["__Host-carnet"]
    second = (await f.login(client, who)).cookies["__Host-carnet"]
    assert first != second


async def test_old_cookie_is_refused_after_logout(client):
    who = await f.person()
    token = (await f.login(client, who)).cookies["__Host-carnet"]
    assert (await client.delete("/api/v1/session")).status_code == 204
    client.cookies.set("__Host-carnet", token)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_disabling_a_person_ends_all_their_sessions_at_once(app, client):
    who = await f.person()
    await f.login(client, who)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as phone:
        await f.login(phone, who)
        await accounts.disable_person(who.id, by=who.id, at=utcnow())
        assert (await phone.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 401
    again = await client.post("/api/v1/session", json={"email": who.email,
                                                       "password": f.PASSWORD})
    assert again.status_code == 401


async def test_idle_sessions_expire_and_active_ones_last_until_the_absolute_limit(app, client):
    who = await f.person()
    start = utcnow()
    app.state.clock = lambda: start
    await f.login(client, who)
    idle = timedelta(hours=app.state.settings.session_idle_hours)
    for step in range(1, 5):  # active every few hours: never idle, not yet absolute
        app.state.clock = lambda step=step: start + step * (idle / 2)
        assert (await client.get("/api/v1/me")).status_code == 200
    app.state.clock = lambda: start + 2 * idle + idle + timedelta(minutes=1)
    assert (await client.get("/api/v1/me")).status_code == 401
    await f.login(client, who)
    absolute = timedelta(days=app.state.settings.session_max_days)
    app.state.clock = lambda: start + 2 * idle + idle + absolute + timedelta(minutes=2)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_tutor_sessions_outlast_days_offline_but_stay_revocable(app, client):
    w = await f.world()
    start = utcnow()
    app.state.clock = lambda: start
    await f.login(client, w.tutor)
    app.state.clock = lambda: start + timedelta(days=5)
    assert (await client.get("/api/v1/me")).status_code == 200
    await accounts.disable_person(w.tutor.id, by=w.admin.id, at=start + timedelta(days=5))
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_unknown_account_and_wrong_password_get_the_same_answer(client):
    who = await f.person()
    wrong = await client.post("/api/v1/session", json={"email": who.email, "password": "nope"})
    unknown = await client.post("/api/v1/session", json={"email": "ghost@example.test",
                                                         "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_failed_logins_are_limited_per_account_then_the_lock_lifts(app, client):
    who, bystander = await f.person(), await f.person()
    start = utcnow()
    app.state.clock = lambda: start
    for _ in range(5):
        r = await client.post("/api/v1/session", json={"email": who.email, "password": "bad"})
        assert r.status_code == 401
    locked = await client.post("/api/v1/session", json={"email": who.email,
                                                        "password": f.PASSWORD})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert locked.json()["code"] == "too_many_requests"
    await f.login(client, bystander)  # other accounts unaffected
    app.state.clock = lambda: start + timedelta(minutes=16)
    await f.login(client, who)


async def test_logins_and_failures_leave_audit_events_without_secrets(client):
    who = await f.person()
    await client.post("/api/v1/session", json={"email": who.email, "password": "wrong-guess"})
    await f.login(client, who)
    await client.delete("/api/v1/session")
    events = await AuditEvent.all().order_by("id")
    assert [e.action for e in events] == ["login.failed", "login", "logout"]
    assert all(e.actor_id == who.id for e in events)
    dumped = repr([(e.payload, e.subject) for e in events])
    assert "wrong-guess" not in dumped and f.PASSWORD not in dumped


async def test_health_keeps_answering_during_a_burst_of_logins(app, client):
    people = [await f.person() for _ in range(20)]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        logins = [asyncio.create_task(other.post(
            "/api/v1/session", json={"email": who.email, "password": f.PASSWORD}))
            for who in people]
        await asyncio.sleep(0)
        health = await client.get("/health")
        assert health.status_code == 200
        finished_before_health = sum(t.done() for t in logins)
        results = await asyncio.gather(*logins)
    assert finished_before_health < 20  # health did not wait for the whole burst
    assert {r.status_code for r in results} == {200}


async def test_login_page_logs_in_and_redirects_to_the_role_home(client):
    w = await f.world()
    page = await client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    response = await client.post("/login", data={"email": w.tutor.email,
                                                 "password": f.PASSWORD})
    assert response.status_code == 303
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/tutor"


async def test_login_page_shows_the_error_in_french(client):
    response = await client.post("/login", data={"email": "x@example.test", "password": "bad"})
    assert response.status_code == 401
    assert "Adresse ou mot de passe incorrect." in response.text


async def test_login_page_never_redirects_off_site(client):
    who = await f.person()
    response = await client.post("/login", data={"email": who.email, "password": f.PASSWORD,
                                                 "next": "//evil.example/"})
    assert response.headers["location"] == "/"


async def test_cross_site_post_is_refused(client):
    who = await f.person()
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        response = await client.post("/login", data={"email": who.email,
                                                     "password": f.PASSWORD}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "cross_site_request"
    same = await client.post("/login", data={"email": who.email, "password": f.PASSWORD},
                             headers={"Sec-Fetch-Site": "same-origin",
                                      "Origin": "https://testserver"})
    assert same.status_code == 303


async def test_json_endpoints_refuse_text_plain_bodies(client):
    who = await f.person()
    response = await client.post(
        "/api/v1/session", content=f'{{"email":"{who.email}","password":"{f.PASSWORD}"}}',
        headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["code"] == "json_required"
