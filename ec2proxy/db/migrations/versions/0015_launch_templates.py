"""launch_templates, launch_template_versions: launch templates, kept whole here (Nova has no counterpart)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

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
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):  # exact text and microseconds, as 0006 made every other table
        from sqlalchemy.dialects import mysql

        collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        for table in ("launch_templates", "launch_template_versions"):
            op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
            op.alter_column(table, "created_at", type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade() -> None:
    op.drop_table("launch_template_versions")
    op.drop_table("launch_templates")
