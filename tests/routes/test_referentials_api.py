async def test_referentials_list_names_the_metal_works_cqp(client):
    response = await client.get("/api/v1/referentials")
    assert response.status_code == 200
    items = response.json()["items"]
    keys = {(r["code"], r["version"]) for r in items}
    assert ("CQP-FIOMB", "2026-1") in keys
    fiomb = next(r for r in items if r["code"] == "CQP-FIOMB")
    assert [b["code"] for b in fiomb["blocks"]] == ["BC01", "BC02", "BC03", "BC04"]


async def test_one_referential_gives_its_whole_tree(client):
    response = await client.get("/api/v1/referentials/CQP-FIOMB/2026-1")
    assert response.status_code == 200
    body = response.json()
    first = body["blocks"][0]["competencies"][0]
    assert first["code"] == "C1.1"
    assert any(c["essential"] for c in first["criteria"])


async def test_unknown_referential_is_a_404_with_its_code(client):
    response = await client.get("/api/v1/referentials/CQP-FIOMB/1999-9")
    assert response.status_code == 404
    assert response.json()["code"] == "referential_not_found"
