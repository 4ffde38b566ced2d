"""vpcs, subnet_settings, internet_gateways, route_tables, routes, route_table_associations, vpc_groups:
what Neutron cannot hold of EC2's VPC networking

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("vpcs", "subnet_settings", "internet_gateways", "route_tables", "routes", "route_table_associations",
          "vpc_groups")


def upgrade() -> None:
    now = sa.DateTime(timezone=True)
    op.create_table(
        "vpcs",
        sa.Column("os_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("router_id", sa.String(64), nullable=False),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("enable_dns_support", sa.Boolean(), nullable=False),
        sa.Column("enable_dns_hostnames", sa.Boolean(), nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "subnet_settings",
        sa.Column("os_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("map_public_ip_on_launch", sa.Boolean(), nullable=False),
        sa.Column("availability_zone", sa.String(255), nullable=False),
    )
    op.create_table(
        "internet_gateways",
        sa.Column("gateway_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("vpc_os_id", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "route_tables",
        sa.Column("route_table_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("vpc_os_id", sa.String(64), nullable=False, index=True),
        sa.Column("main", sa.Boolean(), nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "routes",
        sa.Column("route_table_id", sa.String(32), primary_key=True),
        sa.Column("destination", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "route_table_associations",
        sa.Column("association_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("route_table_id", sa.String(32), nullable=False, index=True),
        sa.Column("subnet_os_id", sa.String(64), nullable=True, unique=True),
    )
    op.create_table(
        "vpc_groups",
        sa.Column("os_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("vpc_os_id", sa.String(64), nullable=False, index=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
    )
    for table in TABLES:
        exact_text_and_microseconds(table, *(("created_at",) if table in ("vpcs", "internet_gateways",
                                                                          "route_tables") else ()))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
