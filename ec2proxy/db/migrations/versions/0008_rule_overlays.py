"""rule_overlays: security group rule descriptions and kept rule ids Neutron cannot hold

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_overlays",
        sa.Column("os_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("ec2_id", sa.String(32), nullable=True),
        sa.Column("description", sa.String(255), nullable=True),
    )
    op.create_index("ix_rule_overlays_project", "rule_overlays", ["project_id"])
    exact_text_and_microseconds("rule_overlays")


def downgrade() -> None:
    op.drop_index("ix_rule_overlays_project", table_name="rule_overlays")
    op.drop_table("rule_overlays")
