"""What every text field a client sends must be: printable, trimmed, not blank.

PostgreSQL's text cannot hold U+0000 (asyncpg refuses the row), and the other control
characters have no place in plain text: they vanish or break lines in feeds, snippets and
terminals. A string of only zero-width characters looks empty everywhere it is shown, so
it counts as empty, and such characters at either end are trimmed like spaces.
"""

from __future__ import annotations

import re

from pydantic import AfterValidator

# C0 controls except tab, line feed and carriage return; DEL; C1 controls.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Spaces that str.strip() leaves: zero-width space, (non-)joiners, word joiner, BOM.
INVISIBLE_EDGES = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")


def plain(value: str) -> str:
    """The value trimmed; ValueError if it holds a control character or is blank."""
    found = CONTROL.search(value)
    if found is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(found[0]):04X})")
    value = INVISIBLE_EDGES.sub("", value)
    if not value:
        raise ValueError("must not be empty or only invisible characters")
    return value


# Put last in an Annotated[str, StringConstraints(...), ...]: it runs after the length checks.
Plain = AfterValidator(plain)
