"""launch_templates, launch_template_versions: launch templates, kept whole here (Nova has no counterpart)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launch_templates",
        sa.Column("template_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("default_version", sa.Integer, nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_launch_templates_name"),
    )
    op.create_table(
        "launch_template_versions",
        sa.Column("template_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marker", sa.String(64), nullable=True),
    )
    for table in ("launch_templates", "launch_template_versions"):
        exact_text_and_microseconds(table, "created_at")


def downgrade() -> None:
    op.drop_table("launch_template_versions")
    op.drop_table("launch_templates")
