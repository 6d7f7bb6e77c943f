"""Rate-limit windows in the database, so that every server process shares them.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("start_ms", sa.BigInteger, nullable=False),  # the window's first call, database clock
        sa.Column("used", sa.BigInteger, nullable=False),  # megapixel images counted in this window
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
