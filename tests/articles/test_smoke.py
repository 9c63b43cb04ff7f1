from tests.conftest import add_article


async def test_detail_by_slug(client, session, settings):
    view = await add_article(session, settings, headline="Hello world")
    await session.commit()
    r = await client.get(f"/v1/articles/{view.slug}")
    assert r.status_code == 200, r.text
    assert r.json()["headline"] == "Hello world"
    r = await client.get("/v1/articles?q=hello")
    assert r.status_code == 200, r.text
    print(r.json())
