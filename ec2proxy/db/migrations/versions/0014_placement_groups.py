"""placement_groups: placement groups on Nova server groups; instances.placement_group_id/_name: the group an
instance was launched into

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "placement_groups",
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("spread_level", sa.String(16), nullable=True),
        sa.Column("os_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_placement_groups_name"),
    )
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("placement_group_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("placement_group_name", sa.String(255), nullable=True))
    exact_text_and_microseconds("placement_groups", "created_at")


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("placement_group_name")
        batch.drop_column("placement_group_id")
    op.drop_table("placement_groups")
