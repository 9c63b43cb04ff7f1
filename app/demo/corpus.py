"""The demo corpus: every article is a pure function of (seed, index), built as the service builds one."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, islice

from app.articles.readmodel import ArticleView, RefView
from app.articles.schemas import ArticleCreate, NamedRef, SectionInput
from app.articles.writer import build_view, make_slug, placement_of
from app.core.config import Settings
from app.demo import words

# A fixed reference, not the clock: the same seed gives the same corpus on any day.
REFERENCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SPAN_MINUTES = 3653 * 24 * 60  # ten years
# Filing offsets of real newsrooms, in minutes: EST, EDT, CST, PDT, UTC, CET, CEST, MSK, IST, JST.
OFFSETS = (-300, -240, -360, -420, 0, 60, 120, 180, 330, 540)
CATEGORY_COUNT, AUTHOR_COUNT, TAG_COUNT = 20, 500, 2000
POOL_SIZE = 20_000  # shared sentences; articles draw body text from them
MEAN_SENTENCE_WORDS = 14
WORDS_RANGE = (300, 600)
SECTION_RANGE, PARAGRAPH_MAX, SENTENCE_RANGE = (2, 6), 4, (3, 6)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


# Slots an article fills with its own subject, so its text stays on one place and topic.
FOCUS = frozenset({"place", "topic", "group", "person", "institution"})


class _Slots(dict[str, str]):
    """Template slots: given ones, focus slots kept as placeholders, others drawn on first use."""

    def __init__(self, rng: random.Random, given: dict[str, str] | None = None) -> None:
        super().__init__(given or {})
        self.rng = rng

    def __missing__(self, key: str) -> str:
        base, _, form = key.partition("_")
        if base in FOCUS:
            return "{" + key + "}"  # filled later, with the article's focus
        value = self._draw(base, form)
        self[key] = value
        return value

    def _draw(self, base: str, form: str) -> str:
        if base in ("n", "m"):
            return str(self.rng.randint(2, 12) + (8 if base == "m" else 0))
        if base == "other":  # another place, topic or group than the article's own
            return self.rng.choice(_SLOT_WORDS[form])
        return _form(self.rng.choice(_SLOT_WORDS[base]), form)


_SLOT_WORDS: dict[str, Sequence[str]] = {
    "place": words.PLACES, "topic": words.TOPICS, "group": words.GROUPS,
    "institution": words.INSTITUTIONS, "adj": words.ADJECTIVES, "change": words.CHANGES,
    "verb": words.VERBS, "subject": words.HEADLINE_SUBJECTS, "hverb": words.HEADLINE_VERBS,
    "changepast": words.CHANGES_PAST,
}  # fmt: skip


def _form(value: str, form: str) -> str:
    if form == "cap":
        return value[0].upper() + value[1:]
    if form == "title":
        return _title(value)
    return value


def _title(text: str) -> str:
    return " ".join(w if w == "the" else w[0].upper() + w[1:] for w in text.split())


def fill(template: str, rng: random.Random, focus: dict[str, str] | None = None) -> str:
    return template.format_map(_Slots(rng, focus))


def draw_focus(rng: random.Random) -> dict[str, str]:
    """What one article is about, in every form the templates use."""
    person = f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"
    focus = {"person": person, "institution": rng.choice(words.INSTITUTIONS)}
    for key in ("place", "topic", "group"):
        value = rng.choice(_SLOT_WORDS[key])
        focus.update({key: value, f"{key}_cap": _form(value, "cap"), f"{key}_title": _title(value)})
    return focus


def demo_slug(headline: str, article_id: str) -> str:
    """The headline as a slug, made unique by part of the id (headlines repeat in a big corpus)."""
    return _NOT_SLUG.sub("-", headline.lower()).strip("-") + "-" + article_id[4:12]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: tuple[RefView, ...]
    authors: tuple[RefView, ...]
    tags: tuple[RefView, ...]


def _unique_refs(names: Sequence[str], count: int) -> tuple[RefView, ...]:
    refs: dict[str, RefView] = {}
    for name in names:
        slug = make_slug(name, "name")
        refs.setdefault(slug, RefView(slug, name))
        if len(refs) == count:
            break
    return tuple(refs.values())


def make_taxonomy(rng: random.Random) -> Taxonomy:
    categories = rng.sample(words.CATEGORIES, CATEGORY_COUNT)
    people = [f"{first} {last}" for first in words.FIRST_NAMES for last in words.LAST_NAMES]
    qualified = [f"{q} {s}" for q in words.QUALIFIERS for s in words.TAG_SUBJECTS]
    topics = [_title(topic) for topic in words.TOPICS] + list(words.TAG_SUBJECTS)
    return Taxonomy(
        categories=_unique_refs(categories, CATEGORY_COUNT),
        authors=_unique_refs(rng.sample(people, len(people)), AUTHOR_COUNT),
        tags=_unique_refs(topics + rng.sample(qualified, len(qualified)), TAG_COUNT),
    )


def _section_sizes(rng: random.Random, sentences: int) -> list[list[int]]:
    """Split a sentence budget into sections of 1-4 paragraphs of 3-6 sentences each."""
    low, high = SENTENCE_RANGE
    count = min(rng.randint(*SECTION_RANGE), sentences // low)
    shares = [sentences // count + (1 if i < sentences % count else 0) for i in range(count)]
    sections = []
    for share in shares:
        share = min(share, PARAGRAPH_MAX * high)
        paragraphs = rng.randint(-(-share // high), min(PARAGRAPH_MAX, share // low))
        sections.append(_split(rng, share, paragraphs))
    return sections


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`parts` sizes within SENTENCE_RANGE that add up to `total` (which must be feasible)."""
    low, high = SENTENCE_RANGE
    sizes = []
    for left in range(parts - 1, -1, -1):
        size = rng.randint(max(low, total - high * left), min(high, total - low * left))
        sizes.append(size)
        total -= size
    return sizes


class Corpus:
    """The articles of one seed; article `i` is the same whatever the corpus size."""

    def __init__(self, seed: int, settings: Settings) -> None:
        if seed < 0:
            raise ValueError("the seed must be a non-negative integer")
        self.seed = seed
        self.settings = settings
        rng = random.Random(f"byline-demo:{seed}")
        self.taxonomy = make_taxonomy(rng)
        self._pool = [fill(rng.choice(words.SENTENCES), rng) for _ in range(POOL_SIZE)]
        self._headings = [fill(rng.choice(words.HEADINGS), rng) for _ in range(2_000)]
        self._refs = {
            ref.slug: NamedRef.model_construct(slug=ref.slug, name=ref.name)
            for group in (self.taxonomy.categories, self.taxonomy.authors, self.taxonomy.tags)
            for ref in group
        }
        # A few categories carry most of the news, as on a real site.
        self._category_weights = list(
            accumulate(1 / (rank + 1) ** 0.6 for rank in range(len(self.taxonomy.categories)))
        )

    def _rng(self, index: int) -> random.Random:
        # An int seed is hashed into the Mersenne Twister state the same way on every platform.
        return random.Random((self.seed << 40) | index)

    def article_id(self, index: int) -> str:
        return _draw_id(self._rng(index))

    def article(self, index: int) -> ArticleView:
        rng = self._rng(index)
        article_id = _draw_id(rng)
        data = self._input(rng, article_id)
        assert data.published_at is not None
        now = data.published_at.astimezone(dt.UTC)
        return build_view(
            data, article_id=article_id, placement=placement_of(data, "published", now),
            revision=1, created_at=now, now=now, settings=self.settings,
        )  # fmt: skip

    def _input(self, rng: random.Random, article_id: str) -> ArticleCreate:
        # Already valid by construction: validating a million inputs would cost minutes.
        taxonomy = self.taxonomy
        focus = draw_focus(rng)
        headline = fill(rng.choice(words.HEADLINES), rng, focus)
        category = rng.choices(taxonomy.categories, cum_weights=self._category_weights)[0]
        return ArticleCreate.model_construct(
            slug=demo_slug(headline, article_id), headline=headline,
            dek=fill(rng.choice(words.DEKS), rng, focus), category=self._refs[category.slug],
            authors=[self._refs[a.slug] for a in rng.sample(taxonomy.authors, rng.randint(1, 3))],
            published_at=_published_at(rng), language=None,
            takeaways=[t.format_map(focus) for t in rng.sample(self._pool, rng.randint(0, 5))],
            sections=self._sections(rng, focus),
            tags=[self._refs[t.slug] for t in rng.sample(taxonomy.tags, rng.randint(0, 5))],
            rights=None, status="published",
        )  # fmt: skip

    def _sections(self, rng: random.Random, focus: dict[str, str]) -> list[SectionInput]:
        count = rng.randint(*WORDS_RANGE) // MEAN_SENTENCE_WORDS
        # One draw for the whole body is far cheaper than one per paragraph.
        sentences = iter(rng.choices(self._pool, k=count))
        sections = []
        for position, sizes in enumerate(_section_sizes(rng, count)):
            heading = None
            if position or rng.random() >= 0.4:
                heading = rng.choice(self._headings).format_map(focus)
            paragraphs = [" ".join(islice(sentences, size)).format_map(focus) for size in sizes]
            sections.append(SectionInput.model_construct(heading=heading, paragraphs=paragraphs))
        return sections


def _draw_id(rng: random.Random) -> str:
    # The same shape as new_article_id(); 64 random bits make a clash with one negligible.
    return f"art_{rng.getrandbits(64):016x}"


def _published_at(rng: random.Random) -> dt.datetime:
    instant = REFERENCE - dt.timedelta(minutes=rng.randrange(1, SPAN_MINUTES))
    zone = dt.timezone(dt.timedelta(minutes=rng.choice(OFFSETS)))
    return instant.astimezone(zone)
