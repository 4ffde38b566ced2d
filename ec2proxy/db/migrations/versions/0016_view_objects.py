"""view_objects: OpenStack's objects as their notifications last showed them (the live view)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_objects",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("os_id", sa.String(255), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False, index=True),
        sa.Column("order_key", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    exact_text_and_microseconds("view_objects", "applied_at")


def downgrade() -> None:
    op.drop_table("view_objects")
