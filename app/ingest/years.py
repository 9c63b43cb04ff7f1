"""The years `year` (HTTP ?year=, `byline import --year`) may give datelines that name none.

A module of its own, with no imports, so that the command line can show the range in its
help without loading the parsers.
"""

YEAR_MIN, YEAR_MAX = 1900, 2200
