"""credentials and the EC2 id map

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("access_key", sa.String(128), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_credentials_project_id", "credentials", ["project_id"])
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


def downgrade() -> None:
    op.drop_table("ec2_ids")
    op.drop_table("credentials")
