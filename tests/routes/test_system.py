async def test_health_answers_ok_when_the_database_answers(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_unknown_api_path_answers_json_error_with_a_stable_code(client):
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "Introuvable.", "details": None}


async def test_unknown_page_answers_an_html_page_in_french(client):
    response = await client.get("/nulle-part")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in response.text
    assert "not_found" in response.text and "Introuvable." in response.text


async def test_wrong_method_on_an_api_route_is_a_json_405(client):
    response = await client.delete("/api/v1/referentials")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_html_pages_carry_the_content_security_policy(client):
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


async def test_static_file_with_current_hash_is_cached_forever(client):
    from backend.resources import static_hash

    version = static_hash("css/app.css")
    response = await client.get(f"/static/css/app.css?v={version}")
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    stale = await client.get("/static/css/app.css?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"


async def test_pages_link_static_files_by_content_hash(client):
    from backend.resources import static_hash

    response = await client.get("/")
    assert f"/static/css/app.css?v={static_hash('css/app.css')}" in response.text


async def test_text_is_sent_compressed(client):
    from backend.resources import static_hash

    css = await client.get(f"/static/css/app.css?v={static_hash('css/app.css')}",
                           headers={"Accept-Encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"
