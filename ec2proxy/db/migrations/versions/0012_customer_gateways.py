"""customer_gateways: customer gateways, a record of the other end of a VPN

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_gateways",
        sa.Column("customer_gateway_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("bgp_asn", sa.BigInteger, nullable=False),
        sa.Column("device_name", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):  # exact text and microseconds, as 0006 made every other table
        from sqlalchemy.dialects import mysql

        collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        op.execute(f"ALTER TABLE customer_gateways CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
        op.alter_column("customer_gateways", "created_at", type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade() -> None:
    op.drop_table("customer_gateways")
