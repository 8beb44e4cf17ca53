"""0019: measures that bind a person: a sanction's twins on the other accounts of the same
real identity point at the sanction imposed (``sanctions.person_of``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    with op.batch_alter_table("sanctions") as batch_op:
        batch_op.add_column(sa.Column("person_of", ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_sanctions_person_of"), ["person_of"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sanctions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_sanctions_person_of"))
        batch_op.drop_column("person_of")
