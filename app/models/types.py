"""Column types shared by the ORM modules."""

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL (compact, indexable), plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntKey: Any = BigInteger().with_variant(Integer(), "sqlite")
