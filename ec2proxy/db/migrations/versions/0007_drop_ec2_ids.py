"""ec2_ids dropped: EC2 ids are digests of the OpenStack ids (ec2proxy.ec2.ids), never stored

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ec2_ids_project", table_name="ec2_ids")
    op.drop_table("ec2_ids")


def downgrade() -> None:
    op.create_table(
        "ec2_ids",
        sa.Column("ec2_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("os_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "os_id", name="uq_ec2_ids_kind_os_id"),
    )
    op.create_index("ix_ec2_ids_project", "ec2_ids", ["project_id"])
