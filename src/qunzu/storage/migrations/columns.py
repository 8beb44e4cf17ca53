"""Column types and constraints the migrations share, so each migration states only what
is its own. The names follow the metadata's naming convention (storage/tables.py), and
tests/integration/test_storage.py checks that the migrated schema equals the metadata."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import conv

# Ids: BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def fk(table: str, column: str, ref: str, ref_column: str = "id") -> sa.ForeignKeyConstraint:
    """``table.column`` references ``ref.ref_column``, named as the metadata names it."""
    return sa.ForeignKeyConstraint(
        [column], [f"{ref}.{ref_column}"], name=conv(f"fk_{table}_{column}_{ref}")
    )
