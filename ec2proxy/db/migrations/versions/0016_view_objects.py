"""view_objects: OpenStack's objects as their notifications last showed them (the live view)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

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
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):  # exact text and microseconds, as 0006 made every other table
        from sqlalchemy.dialects import mysql

        collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        op.execute(f"ALTER TABLE view_objects CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
        op.alter_column("view_objects", "applied_at", type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade() -> None:
    op.drop_table("view_objects")
