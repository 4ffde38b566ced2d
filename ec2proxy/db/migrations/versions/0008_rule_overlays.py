"""rule_overlays: security group rule descriptions and kept rule ids Neutron cannot hold

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

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
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):  # exact text, as 0006 made every other table
        collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        op.execute(f"ALTER TABLE rule_overlays CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")


def downgrade() -> None:
    op.drop_index("ix_rule_overlays_project", table_name="rule_overlays")
    op.drop_table("rule_overlays")
