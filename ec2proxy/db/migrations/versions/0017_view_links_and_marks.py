"""view_objects.link (a port's server, a floating IP's port) and view_marks (objects our own writes changed)

The view holds servers as Nova's API shows them from now on (it held Nova's payloads): what it held is dropped,
and rebuilt by the feed and the direct reads.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM view_objects")
    with op.batch_alter_table("view_objects") as table:
        table.add_column(sa.Column("link", sa.String(255), nullable=True))
        table.create_index("ix_view_objects_link", ["kind", "link"])
    op.create_table(
        "view_marks",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("os_id", sa.String(255), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    exact_text_and_microseconds("view_marks", "marked_at")


def downgrade() -> None:
    op.drop_table("view_marks")
    with op.batch_alter_table("view_objects") as table:
        table.drop_index("ix_view_objects_link")
        table.drop_column("link")
