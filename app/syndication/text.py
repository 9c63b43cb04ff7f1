"""Article text turned into HTML and plain text; article text is always text, never markup."""

from __future__ import annotations

import html
import re

from app.articles.readmodel import ArticleView

# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def xml_safe(text: str) -> str:
    """Text an XML document can hold: characters XML forbids are dropped, not turned into errors."""
    return _NOT_XML.sub("", text)


def body_html(view: ArticleView) -> str:
    """The article body as HTML: an <h2> per heading, a <p> per paragraph."""
    parts: list[str] = []
    for section in view.sections:
        if section.heading:
            parts.append(f"<h2>{escape(section.heading)}</h2>")
        parts.extend(f"<p>{escape(paragraph)}</p>" for paragraph in section.paragraphs)
    return "\n".join(parts)


def corrections_html(view: ArticleView) -> str:
    """Published corrections, for outputs that carry the body as one HTML document."""
    if not view.corrections:
        return ""
    items = "".join(f"<p>{escape(c.text)}</p>" for c in view.corrections)
    return f'\n<aside class="corrections"><h2>Corrections</h2>{items}</aside>'


def body_text(view: ArticleView) -> str:
    """The article body as plain text: headings and paragraphs separated by blank lines."""
    blocks: list[str] = []
    for section in view.sections:
        if section.heading:
            blocks.append(section.heading)
        blocks.extend(section.paragraphs)
    return "\n\n".join(blocks)


def summary_html(view: ArticleView) -> str:
    """What partners without `syndicate` get: the dek and the key takeaways."""
    parts = [f"<p>{escape(view.dek)}</p>"] if view.dek else []
    if view.takeaways:
        items = "".join(f"<li>{escape(t)}</li>" for t in view.takeaways)
        parts.append(f"<ul>{items}</ul>")
    return "\n".join(parts) or f"<p>{escape(view.headline)}</p>"


def summary_text(view: ArticleView) -> str:
    return view.dek or " ".join(view.takeaways) or view.headline


def byline(names: list[str]) -> str:
    """Names as a byline reads: `A`, `A and B`, `A, B and C`."""
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
