"""dhcp_options, and on vpcs: the DHCP options set of each VPC and the project a proxy-made default VPC is for

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from ec2proxy.db.exact import exact_text_and_microseconds

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dhcp_options",
        sa.Column("dhcp_options_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("vpcs") as batch:
        batch.add_column(sa.Column("dhcp_options_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("default_for", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_vpcs_default_for", ["default_for"])
    exact_text_and_microseconds("dhcp_options", "created_at")


def downgrade() -> None:
    with op.batch_alter_table("vpcs") as batch:
        batch.drop_constraint("uq_vpcs_default_for", type_="unique")
        batch.drop_column("default_for")
        batch.drop_column("dhcp_options_id")
    op.drop_table("dhcp_options")
