"""GET /v1/articles: order, filters, cursors, search, facets, fields and bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, text, update

from app.core.db import Base
from app.core.http import decode_cursor, encode_cursor
from app.models import Article
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


async def headlines(client, url: str) -> list[str]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return [item["headline"] for item in response.json()["data"]]


async def walk(client, url: str) -> list[str]:
    """Every headline reachable from url by following next links."""
    seen: list[str] = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["headline"] for item in body["data"]]
        url = body["links"]["next"]
    return seen


class TestOrderAndShape:
    async def test_newest_first_with_summary_fields(self, client, session, settings):
        await add_article(session, settings, headline="Older", published_at=at(1))
        await add_article(session, settings, headline="Newer", published_at=at(2))
        response = await client.get("/v1/articles")
        body = response.json()
        assert [d["headline"] for d in body["data"]] == ["Newer", "Older"]
        assert set(body["data"][0]) == {
            "id", "slug", "url", "headline", "dek", "category", "authors",
            "published_at", "updated_at", "takeaways", "word_count", "links",
        }  # fmt: skip
        assert body["meta"] == {"limit": 20, "next_cursor": None}
        assert body["links"]["next"] is None
        assert response.headers["content-type"] == "application/json"

    async def test_sort_oldest_first_and_by_update(self, client, session, settings):
        await add_article(session, settings, headline="A", published_at=at(1))
        await add_article(session, settings, headline="B", published_at=at(2))
        assert await headlines(client, "/v1/articles?sort=published_at") == ["A", "B"]
        assert await headlines(client, "/v1/articles?sort=-updated_at") == ["B", "A"]

    async def test_published_at_keeps_filing_offset(self, client, session, settings):
        filed = dt.datetime(2024, 5, 16, 10, 34, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
        await add_article(session, settings, headline="Filed", published_at=filed)
        item = (await client.get("/v1/articles")).json()["data"][0]
        assert item["published_at"] == "2024-05-16T10:34:00-04:00"
        assert item["updated_at"].endswith("Z")


class TestVisibility:
    async def test_drafts_and_embargoed_articles_are_hidden(self, client, session, settings):
        now = dt.datetime.now(dt.UTC)
        await add_article(session, settings, headline="Draft", status="draft")
        await add_article(
            session, settings, headline="Embargoed", published_at=now + dt.timedelta(days=1)
        )
        await add_article(session, settings, headline="Public", published_at=at(1))
        assert await headlines(client, "/v1/articles") == ["Public"]
        assert (await client.get("/v1/categories")).json()["data"][0]["article_count"] == 1

    async def test_embargo_lifts_without_any_process(self, client, session, settings):
        now = dt.datetime.now(dt.UTC)
        view = await add_article(
            session, settings, headline="Soon", published_at=now + dt.timedelta(hours=1), now=now
        )
        assert view.status == "scheduled"
        assert (await client.get(f"/v1/articles/{view.id}")).status_code == 404
        lifted = now - dt.timedelta(seconds=1)
        await session.execute(
            update(Article)
            .where(Article.id == view.id)
            .values(published_at=lifted, embargo_until=lifted)
        )
        response = await client.get(f"/v1/articles/{view.id}")
        assert response.status_code == 200
        assert response.json()["status"] == "published"


class TestCursor:
    async def test_walk_visits_every_article_once_in_order(self, client, session, settings):
        for hour in range(7):
            await add_article(session, settings, headline=f"H{hour}", published_at=at(hour))
        assert await walk(client, "/v1/articles?limit=2") == [f"H{h}" for h in range(6, -1, -1)]
        assert await walk(client, "/v1/articles?limit=3&sort=published_at") == [
            f"H{h}" for h in range(7)
        ]

    async def test_ties_on_time_are_broken_by_id(self, client, session, settings):
        for n in range(5):
            await add_article(session, settings, headline=f"Same {n}", published_at=at(1))
        assert sorted(await walk(client, "/v1/articles?limit=2")) == [f"Same {n}" for n in range(5)]

    async def test_stable_while_articles_are_added(self, client, session, settings):
        for hour in range(4):
            await add_article(session, settings, headline=f"H{hour}", published_at=at(hour))
        first = (await client.get("/v1/articles?limit=2")).json()
        await add_article(session, settings, headline="Breaking", published_at=at(10))
        rest = await walk(client, first["links"]["next"])
        assert rest == ["H1", "H0"]

    async def test_link_header_and_links_carry_the_filters(self, client, session, settings):
        for hour in range(3):
            await add_article(session, settings, headline=f"H{hour}", published_at=at(hour))
        response = await client.get("/v1/articles?limit=1&category=science")
        next_link = response.json()["links"]["next"]
        assert "category=science" in next_link
        assert "cursor=" in next_link
        assert response.headers["link"] == f'<{next_link}>; rel="next"'
        assert response.json()["links"]["self"].startswith("http://byline.test/v1/articles?")

    @pytest.mark.parametrize(
        "cursor", ["garbage", "eyJzIjoiLXB1Ymxpc2hlZF9hdCIsImsiOlsxXX0", "%%%", "a" * 40]
    )
    async def test_tampered_cursor_is_422(self, client, cursor):
        response = await client.get("/v1/articles", params={"cursor": cursor})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]

    async def test_flipped_character_in_a_real_cursor_is_422(self, client, session, settings):
        for hour in range(3):
            await add_article(session, settings, published_at=at(hour))
        cursor = (await client.get("/v1/articles?limit=1")).json()["meta"]["next_cursor"]
        flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
        assert (await client.get("/v1/articles", params={"cursor": flipped})).status_code == 422

    async def test_cursor_of_another_sort_is_422(self, client, session, settings):
        for hour in range(3):
            await add_article(session, settings, published_at=at(hour))
        cursor = (await client.get("/v1/articles?limit=1")).json()["meta"]["next_cursor"]
        response = await client.get(
            "/v1/articles", params={"cursor": cursor, "sort": "published_at"}
        )
        assert response.status_code == 422
        assert "sort" in response.json()["detail"]


class TestFilters:
    async def seed(self, session, settings):
        await add_article(
            session,
            settings,
            headline="Sci tagged",
            category="Science",
            tags=["Climate"],
            authors=["Ann Lee"],
            published_at=at(1),
        )
        await add_article(
            session,
            settings,
            headline="Biz tagged",
            category="Business",
            tags=["Climate", "Ports"],
            authors=["Bo Chen"],
            published_at=at(2),
        )
        await add_article(
            session,
            settings,
            headline="Biz plain",
            category="Business",
            authors=["Ann Lee", "Bo Chen"],
            published_at=at(3),
        )

    async def test_category_or_within_and_across(self, client, session, settings):
        await self.seed(session, settings)
        assert await headlines(client, "/v1/articles?category=science") == ["Sci tagged"]
        assert await headlines(client, "/v1/articles?category=science&category=business") == [
            "Biz plain",
            "Biz tagged",
            "Sci tagged",
        ]
        assert await headlines(client, "/v1/articles?category=science,business&tag=climate") == [
            "Biz tagged",
            "Sci tagged",
        ]
        assert await headlines(client, "/v1/articles?category=business&tag=climate") == [
            "Biz tagged"
        ]
        assert await headlines(client, "/v1/articles?category=nope") == []

    async def test_author_and_tag(self, client, session, settings):
        await self.seed(session, settings)
        assert await headlines(client, "/v1/articles?author=ann-lee") == ["Biz plain", "Sci tagged"]
        assert await headlines(client, "/v1/articles?tag=ports&tag=climate") == [
            "Biz tagged",
            "Sci tagged",
        ]
        assert await headlines(client, "/v1/articles?author=bo-chen&tag=ports") == ["Biz tagged"]

    async def test_dates(self, client, session, settings):
        await self.seed(session, settings)
        after = at(1).isoformat()
        assert await headlines(
            client, f"/v1/articles?published_after={after.replace('+', '%2B')}"
        ) == ["Biz plain", "Biz tagged"]
        assert await headlines(client, "/v1/articles?published_before=2025-03-01T11:30:00Z") == [
            "Biz tagged",
            "Sci tagged",
        ]
        assert await headlines(client, "/v1/articles?published_after=2025-03-02") == []
        assert len(await headlines(client, "/v1/articles?updated_since=2000-01-01")) == 3

    async def test_repeated_comma_lists_add_up(self, client, session, settings):
        await self.seed(session, settings)
        body = (
            await client.get("/v1/articles?facets=category&facets=tag&fields=slug&fields=dek")
        ).json()
        assert set(body["meta"]["facets"]) == {"category", "tag"}
        assert set(body["data"][0]) == {"id", "slug", "dek"}

    @pytest.mark.parametrize(
        "query",
        [
            "limit=abc&limit=5",
            "limit=5&limit=6",
            "published_after=garbage&published_after=2025-01-01T00:00:00Z",
            "sort=relevance&sort=-published_at",
            "q=a&q=b",
        ],
    )
    async def test_a_single_valued_parameter_given_twice_is_422(self, client, query):
        response = await client.get(f"/v1/articles?{query}")
        assert response.status_code == 422
        name = query.split("=", 1)[0]
        assert response.json()["errors"] == [
            {"loc": ["query", name], "msg": "has several different values; give it once"}
        ]

    async def test_status_is_shown_when_asked_for(self, client, session, settings):
        await self.seed(session, settings)
        asked = (await client.get("/v1/articles?fields=status")).json()["data"]
        assert {item["status"] for item in asked} == {"published"}
        assert "status" not in (await client.get("/v1/articles")).json()["data"][0]
        writer = auth(await make_key(session, "write"))
        filtered = await client.get("/v1/articles?status=published", headers=writer)
        assert {item["status"] for item in filtered.json()["data"]} == {"published"}

    async def test_the_same_value_twice_is_fine(self, client):
        assert (await client.get("/v1/articles?limit=5&limit=5")).status_code == 200

    async def test_facets_count_the_whole_filtered_set(self, client, session, settings):
        await self.seed(session, settings)
        body = (
            await client.get("/v1/articles?limit=1&facets=category,author,tag&include_total=true")
        ).json()
        assert body["meta"]["total"] == 3
        assert body["meta"]["facets"]["category"] == [
            {"slug": "business", "name": "Business", "count": 2},
            {"slug": "science", "name": "Science", "count": 1},
        ]
        assert {f["slug"]: f["count"] for f in body["meta"]["facets"]["author"]} == {
            "ann-lee": 2,
            "bo-chen": 2,
        }
        assert {f["slug"]: f["count"] for f in body["meta"]["facets"]["tag"]} == {
            "climate": 2,
            "ports": 1,
        }
        filtered = (await client.get("/v1/articles?tag=ports&facets=category")).json()
        assert filtered["meta"]["facets"] == {
            "category": [{"slug": "business", "name": "Business", "count": 1}]
        }


class TestSearch:
    async def test_relevance_ranks_headline_hits_first_and_marks_terms(
        self, client, session, settings
    ):
        await add_article(session, settings, headline="Ports and harbours", published_at=at(1))
        await add_article(
            session, settings, headline="Unrelated news", published_at=at(2),
            sections=[{"heading": None, "paragraphs": ["A line that mentions glaciers once."]}],
        )  # fmt: skip
        await add_article(session, settings, headline="Glaciers retreat fast", published_at=at(0))
        body = (await client.get("/v1/articles?q=glaciers")).json()
        assert [d["headline"] for d in body["data"]] == ["Glaciers retreat fast", "Unrelated news"]
        assert "<mark>Glaciers</mark>" in body["data"][0]["highlight"]
        assert "<mark>glaciers</mark>" in body["data"][1]["highlight"]

    async def test_matches_stems_and_takeaways(self, client, session, settings):
        await add_article(
            session,
            settings,
            headline="Markets",
            takeaways=["Retailers were closing stores."],
            published_at=at(1),
        )
        assert await headlines(client, "/v1/articles?q=close") == ["Markets"]

    async def test_highlight_escapes_article_text(self, client, session, settings):
        await add_article(
            session, settings, headline="Escaping",
            sections=[{"heading": None, "paragraphs": [
                "Beware <script>alert(1)</script> & \"quoted\" 'payload' here."
            ]}],
        )  # fmt: skip
        highlight = (await client.get("/v1/articles?q=payload")).json()["data"][0]["highlight"]
        assert "<script>" not in highlight
        assert "&lt;script&gt;" in highlight
        assert "&amp;" in highlight
        # Quotes too, so that a snippet is safe in an attribute (title="…") as in text.
        assert '"' not in highlight
        assert "'" not in highlight
        assert "&quot;quoted&quot;" in highlight
        assert highlight.count("<") == highlight.count("<mark>") + highlight.count("</mark>")

    async def test_search_pages_by_cursor_and_combines_with_filters(
        self, client, session, settings
    ):
        for n in range(5):
            await add_article(
                session,
                settings,
                headline=f"Harbour story {n}",
                category="Business" if n % 2 else "Science",
                published_at=at(n),
            )
        assert len(await walk(client, "/v1/articles?q=harbour&limit=2")) == 5
        assert len(await headlines(client, "/v1/articles?q=harbour&category=business")) == 2
        by_date = await headlines(client, "/v1/articles?q=harbour&sort=-published_at")
        assert by_date == [f"Harbour story {n}" for n in range(4, -1, -1)]

    async def test_query_syntax_is_just_words(self, client, session, settings):
        await add_article(session, settings, headline="Quoted NEAR text")
        for q in ['"unbalanced', "a OR b AND", "NEAR(", "*", "col:value", "-x"]:
            response = await client.get("/v1/articles", params={"q": q})
            assert response.status_code == 200, (q, response.text)

    async def test_query_with_no_words_finds_nothing(self, client, session, settings):
        await add_article(session, settings)
        body = (await client.get("/v1/articles?q=%21%21%21&include_total=true")).json()
        assert body["data"] == []
        assert body["meta"]["total"] == 0


class TestBlankQuery:
    """`q` is trimmed: blank is no search at all, exactly as when `q` is absent."""

    @pytest.mark.parametrize("q", ["", "%20", "%20%20%09", "+"])
    async def test_blank_q_lists_everything(self, client, session, settings, q):
        await add_article(session, settings, headline="Older", published_at=at(1))
        await add_article(session, settings, headline="Newer", published_at=at(2))
        body = (await client.get(f"/v1/articles?q={q}&include_total=true")).json()
        assert [d["headline"] for d in body["data"]] == ["Newer", "Older"]
        assert body["meta"]["total"] == 2
        assert "highlight" not in body["data"][0]

    @pytest.mark.parametrize("q", [None, "", "%20"])
    async def test_relevance_without_words_is_the_same_422(self, client, q):
        query = "sort=relevance" if q is None else f"sort=relevance&q={q}"
        response = await client.get(f"/v1/articles?{query}")
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"loc": ["query", "sort"], "msg": "relevance needs a search query q"}
        ]

    async def test_words_around_spaces_still_search(self, client, session, settings):
        await add_article(session, settings, headline="Glacier melt")
        await add_article(session, settings, headline="Harbour cranes")
        assert await headlines(client, "/v1/articles?q=%20glacier%20") == ["Glacier melt"]


class TestQueryTimes:
    """Date filters take RFC 3339: a date-time with its offset, or a date (midnight UTC)."""

    @pytest.mark.parametrize(
        "value",
        [
            "2025-03-01T10:30:00Z",
            "2025-03-01T10:30:00z",
            "2025-03-01t10:30:00Z",
            "2025-03-01 10:30:00Z",
            "2025-03-01T11:30:00%2B01:00",
            "2025-03-01T11:30:00 01:00",  # an unencoded "+" arrives as a space
            "2025-03-01T05:30:00-05:00",
            "2025-03-01T10:30:00.000001Z",
        ],
    )
    async def test_date_times_with_an_offset(self, client, session, settings, value):
        await add_article(session, settings, headline="Before", published_at=at(1))  # 10:00Z
        await add_article(session, settings, headline="After", published_at=at(2))  # 11:00Z
        assert await headlines(client, f"/v1/articles?published_after={value}") == ["After"]
        assert await headlines(client, f"/v1/articles?published_before={value}") == ["Before"]

    async def test_a_date_is_midnight_utc(self, client, session, settings):
        midnight = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
        await add_article(
            session, settings, headline="Eve", published_at=midnight - dt.timedelta(seconds=1)
        )
        await add_article(
            session, settings, headline="Day", published_at=midnight + dt.timedelta(seconds=1)
        )
        assert await headlines(client, "/v1/articles?published_after=2025-03-01") == ["Day"]
        assert await headlines(client, "/v1/articles?published_before=2025-03-01") == ["Eve"]

    @pytest.mark.parametrize("name", ["published_after", "published_before", "updated_since"])
    @pytest.mark.parametrize(
        "value",
        [
            "2026-03-01T06:30:00",  # no offset: which instant is meant?
            "2026-03-01T06:30:00%2B0000",  # ISO 8601 basic offset, not RFC 3339
            "2026-03-01T06:30:00%2B00",
            "2026-03-01T06:30Z",  # no seconds
            "20260301",
            "20260301T063000Z",
            "2026-03-01T",
            "2026-3-1",
            "2026-03-01T25:00:00Z",
            "2026-02-30",
            "2026-03-01T06:30:00%2B24:00",
            "1772346600",
            "now",
        ],
    )
    async def test_anything_else_is_a_422_naming_the_parameter(self, client, name, value):
        response = await client.get(f"/v1/articles?{name}={value}")
        assert response.status_code == 422, value
        body = response.json()
        assert body["errors"][0]["loc"] == ["query", name]
        assert "RFC 3339" in body["errors"][0]["msg"]


class TestFields:
    async def test_fields_narrow_and_keep_id(self, client, session, settings):
        await add_article(session, settings, headline="Narrow")
        item = (await client.get("/v1/articles?fields=headline,url")).json()["data"][0]
        assert set(item) == {"id", "headline", "url"}


class TestBadInput:
    @pytest.mark.parametrize(
        ("query", "param"),
        [
            ("sort=sideways", "sort"),
            ("limit=0", "limit"),
            ("limit=1000", "limit"),
            ("limit=101", "limit"),
            ("limit=ten", "limit"),
            ("fields=headline,nonsense", "fields"),
            ("published_after=yesterday", "published_after"),
            ("published_before=2025-13-45", "published_before"),
            ("updated_since=12/05/2025", "updated_since"),
            ("facets=colour", "facets"),
            ("sort=relevance", "sort"),
            ("include_total=maybe", "include_total"),
        ],
    )
    async def test_each_is_a_422_problem_naming_the_parameter(self, client, query, param):
        response = await client.get(f"/v1/articles?{query}")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert {"type", "title", "status", "detail", "instance"} <= set(body)
        assert body["status"] == 422
        assert ["query", param] in [e["loc"] for e in body["errors"]]

    async def test_unknown_parameters_are_ignored(self, client):
        assert (await client.get("/v1/articles?colour=blue")).status_code == 200


async def test_later_pages_never_show_embargoed_articles_nor_count_them(client, session, settings):
    now = dt.datetime.now(dt.UTC)
    for hour in range(3):
        await add_article(session, settings, headline=f"H{hour}", published_at=at(hour))
    await add_article(
        session, settings, headline="Embargoed", published_at=now + dt.timedelta(days=2)
    )
    first = (await client.get("/v1/articles?limit=1&include_total=true&facets=category")).json()
    rest = (await client.get(first["links"]["next"])).json()
    assert first["meta"]["total"] == rest["meta"]["total"] == 3
    assert rest["meta"]["facets"]["category"][0]["count"] == 3
    assert "Embargoed" not in await walk(client, "/v1/articles?limit=1")


class TestSearchAtScale:
    async def test_relevance_walk_matches_one_big_page(self, client, session, settings):
        for n in range(24):
            words = " ".join(["lighthouse"] * (1 + n % 5))
            await add_article(
                session,
                settings,
                headline=f"Story {n}",
                sections=[{"heading": None, "paragraphs": [f"{words} keeper log."]}],
                published_at=at(n),
            )
        whole = await headlines(client, "/v1/articles?q=lighthouse&limit=100")
        assert len(whole) == 24
        assert await walk(client, "/v1/articles?q=lighthouse&limit=3") == whole

    async def test_relevance_pages_stay_stable_while_matches_are_added(
        self, client, session, settings
    ):
        # SQLite's bm25 depends on the whole corpus (how rare the word is, the average
        # length): adding matches moves every score, and a cursor holding the last score
        # once repeated the first page or skipped the rest.
        async def story(headline: str, hits: int, filler: int, hour: int) -> None:
            paragraph = " ".join(["lantern"] * hits + ["harbour"] * filler) + "."
            sections = [{"heading": None, "paragraphs": [paragraph]}]
            await add_article(
                session, settings, headline=headline, sections=sections, published_at=at(hour)
            )

        for n in range(9):
            await story(f"Old {n}", hits=1 + n % 4, filler=3 * n, hour=n)
        first = (await client.get("/v1/articles?q=lantern&limit=3")).json()
        shown = [item["headline"] for item in first["data"]]
        for n in range(40):  # the word goes from rare to common, documents get longer
            await story(f"New {n}", hits=1 + n % 6, filler=40 + n, hour=20 + n)
        rest = await walk(client, first["links"]["next"])
        old_ones = [headline for headline in shown + rest if headline.startswith("Old")]
        assert sorted(old_ones) == [f"Old {n}" for n in range(9)]  # each exactly once

    async def test_a_relevance_cursor_without_a_revision_still_pages(
        self, client, session, settings
    ):
        """Cursors issued before they carried the hit's revision resume from their score."""
        for n in range(5):
            sections = [{"heading": None, "paragraphs": [" ".join(["ember"] * (n + 1))]}]
            await add_article(
                session, settings, headline=f"E{n}", sections=sections, published_at=at(n)
            )
        whole = await headlines(client, "/v1/articles?q=ember&limit=100")
        first = (await client.get("/v1/articles?q=ember&limit=2")).json()
        values = decode_cursor(settings.cursor_secret, "relevance", first["meta"]["next_cursor"])
        assert len(values) == 3  # score, tiebreak, revision
        old = encode_cursor(settings.cursor_secret, "relevance", values[:2])
        rest = await walk(client, f"/v1/articles?q=ember&limit=2&cursor={old}")
        assert [item["headline"] for item in first["data"]] + rest == whole

    async def test_best_hits_hidden_by_filters_fall_back_to_every_match(
        self, client, session, settings
    ):
        for n in range(20):
            await add_article(
                session,
                settings,
                headline=f"Beacon draft {n}",
                status="draft",
                sections=[{"heading": None, "paragraphs": ["beacon beacon beacon beacon"]}],
            )
        for n in range(3):
            await add_article(
                session,
                settings,
                headline=f"Public {n}",
                sections=[{"heading": None, "paragraphs": ["one beacon"]}],
                published_at=at(n),
            )
        assert sorted(await walk(client, "/v1/articles?q=beacon&limit=2")) == [
            "Public 0",
            "Public 1",
            "Public 2",
        ]


def test_sqlite_pages_articles_from_the_published_at_index(tmp_path):
    """SQLite plans without table statistics: an index that starts with `status` once made
    it read every published article for each page and search (migration f95e3b0a6c43)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    Base.metadata.create_all(engine)  # every index the models declare
    page = (
        "EXPLAIN QUERY PLAN SELECT id FROM articles "
        "WHERE status IN ('published', 'scheduled') AND published_at <= :now "
        "ORDER BY published_at DESC, id DESC LIMIT 21"
    )
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.execute(text(page), {"now": T0}))
    engine.dispose()
    assert "ix_articles_published_at_id" in plan
    assert "TEMP B-TREE" not in plan  # no sort of everything that matched
