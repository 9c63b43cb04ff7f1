"""The demo corpus generator: deterministic by seed, shaped like real articles."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.core.config import Settings
from app.demo.corpus import OFFSETS, REFERENCE, Corpus

SETTINGS = Settings(database_url="sqlite:///unused.db")
SAMPLE = range(300)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(7, SETTINGS)


@pytest.fixture(scope="module")
def articles(corpus):
    return [corpus.article(i) for i in SAMPLE]


def test_same_seed_gives_the_same_articles(articles):
    again = Corpus(7, SETTINGS)
    assert [again.article(i) for i in SAMPLE] == articles


def test_different_seeds_give_different_articles(articles):
    different = Corpus(8, SETTINGS)
    other = [different.article(i) for i in SAMPLE]
    assert not {a.id for a in articles} & {a.id for a in other}
    assert [a.headline for a in articles] != [a.headline for a in other]


def test_an_article_does_not_depend_on_what_else_is_generated(corpus, articles):
    assert corpus.article(250) == articles[250]
    assert corpus.article_id(123) == articles[123].id


def test_ids_look_like_service_ids_and_ids_and_slugs_are_unique(articles):
    assert all(re.fullmatch(r"art_[0-9a-f]{16}", a.id) for a in articles)
    assert len({a.id for a in articles}) == len(articles)
    assert len({a.slug for a in articles}) == len(articles)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", a.slug) for a in articles)


def test_taxonomy_sizes_and_unique_slugs(corpus):
    taxonomy = corpus.taxonomy
    for refs, size in ((taxonomy.categories, 20), (taxonomy.authors, 500), (taxonomy.tags, 2000)):
        assert len(refs) == size
        assert len({ref.slug for ref in refs}) == size


def test_every_article_is_published_within_ten_years_before_the_reference(articles):
    earliest = REFERENCE - dt.timedelta(days=3653)
    for article in articles:
        assert article.status == "published"
        assert article.published_at is not None
        assert earliest <= article.published_at < REFERENCE
        offset = article.published_at.utcoffset()
        assert offset is not None
        assert int(offset.total_seconds() // 60) in OFFSETS
        assert article.updated_at == article.published_at
    assert len({a.published_at.utcoffset() for a in articles if a.published_at}) > 3


def test_bylines_tags_and_takeaways_have_their_ranges(articles):
    assert {len(a.authors) for a in articles} == {1, 2, 3}
    assert {len(a.tags) for a in articles} == set(range(6))
    assert {len(a.takeaways) for a in articles} == set(range(6))
    assert all(t.endswith(".") and t.count(". ") == 0 for a in articles for t in a.takeaways)


def test_body_is_sections_of_paragraphs_of_sentences(articles):
    assert {len(a.sections) for a in articles} == set(range(2, 7))
    paragraphs = [p for a in articles for s in a.sections for p in s.paragraphs]
    assert {len(s.paragraphs) for a in articles for s in a.sections} <= set(range(1, 5))
    assert {p.count(". ") + 1 for p in paragraphs} == set(range(3, 7))
    assert any(a.sections[0].heading is None for a in articles)
    assert all(s.heading for a in articles for s in a.sections[1:])


def test_length_is_a_few_hundred_words(articles):
    counts = [a.word_count for a in articles]
    assert 400 <= sum(counts) / len(counts) <= 500
    assert min(counts) >= 250
    assert max(counts) <= 700
    assert all(a.reading_time_minutes >= 2 for a in articles)


def test_a_negative_seed_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        Corpus(-1, SETTINGS)
