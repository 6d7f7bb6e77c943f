"""Idempotency records kept with charges (``Idempotency-Key``), and ``openbg_meta`` for one-off facts such as
"the first key was made" (so that servers starting at once on an empty database make one ``default`` key).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("idem_key", sa.String(255), primary_key=True),  # the client's Idempotency-Key
        sa.Column("digest", sa.String(64), nullable=False),  # sha256 of the request's fields
        sa.Column("at_ms", sa.BigInteger, nullable=False),  # when it was charged (unix ms)
        sa.Column("credits_milli", sa.BigInteger, nullable=False),  # what was charged (0: a free call)
        sa.Column("preview", sa.Boolean, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),  # the charging request (ledger.request_id)
    )
    op.create_index("ix_idempotency_at_ms", "idempotency", ["at_ms"])
    op.create_table(
        "openbg_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("openbg_meta")
    op.drop_index("ix_idempotency_at_ms", "idempotency")
    op.drop_table("idempotency")
