"""view_objects.link (a port's server, a floating IP's port) and view_marks (objects our own writes changed)

The view holds servers as Nova's API shows them from now on (it held Nova's payloads): what it held is dropped,
and rebuilt by the feed and the direct reads.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

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
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):  # exact text and microseconds, as 0006 made every other table
        from sqlalchemy.dialects import mysql

        collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        op.execute(f"ALTER TABLE view_marks CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
        op.alter_column("view_marks", "marked_at", type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade() -> None:
    op.drop_table("view_marks")
    with op.batch_alter_table("view_objects") as table:
        table.drop_index("ix_view_objects_link")
        table.drop_column("link")
