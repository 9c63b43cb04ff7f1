"""Dates as each format writes them: RFC 3339 (Atom, JSON Feed, ninjs, JSON-LD), RFC 822 (RSS)."""

from __future__ import annotations

import datetime as dt


def rfc3339(value: dt.datetime) -> str:
    """An instant with its offset; UTC is written with Z, as the JSON API writes it."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
