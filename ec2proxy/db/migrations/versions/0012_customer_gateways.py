"""customer_gateways: customer gateways, a record of the other end of a VPN

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

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
    exact_text_and_microseconds("customer_gateways", "created_at")


def downgrade() -> None:
    op.drop_table("customer_gateways")
