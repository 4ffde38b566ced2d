"""view_projects: the projects whose changes the live view keeps (those the proxy has served), and when each
was last swept (Nova's changes-since against the view) and last found to have missed a change

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_projects",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("served_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True),
    )
    exact_text_and_microseconds("view_projects", "served_since", nullable=("swept_at", "missed_at"))
    # the projects the view already holds rows of were served: their changes go on being kept
    op.execute("INSERT INTO view_projects (project_id, served_since) "
               "SELECT project_id, MIN(applied_at) FROM view_objects GROUP BY project_id")


def downgrade() -> None:
    op.drop_table("view_projects")
