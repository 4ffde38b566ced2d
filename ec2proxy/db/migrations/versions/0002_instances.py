"""instances, reservations, the ClientToken ledger, the operations log, tags

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("nova_reservation_id", sa.String(64), nullable=True),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "instances",
        sa.Column("ec2_id", sa.String(32), primary_key=True),
        sa.Column("os_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("reservation_id", sa.String(32), nullable=False, index=True),
        sa.Column("launch_index", sa.Integer, nullable=False),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.Column("instance_type", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=True),
        sa.Column("user_data", sa.Text, nullable=True),
        sa.Column("client_token", sa.String(64), nullable=True),
        sa.Column("root_device_name", sa.String(64), nullable=False),
        sa.Column("kernel_id", sa.String(32), nullable=True),
        sa.Column("ramdisk_id", sa.String(32), nullable=True),
        sa.Column("block_device_mappings", sa.JSON, nullable=False),
        sa.Column("metadata_options", sa.JSON, nullable=False),
        sa.Column("disable_api_termination", sa.Boolean, nullable=False),
        sa.Column("shutdown_behavior", sa.String(16), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.UniqueConstraint("os_id", name="uq_instances_os_id"),
    )
    op.create_table(
        "client_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "region", "zone", "action", "token", name="uq_client_tokens_key"),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("resource_ids", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_operations_state", "operations", ["state", "created_at"])
    op.create_table(
        "tags",
        sa.Column("resource_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
    )
    op.create_index("ix_tags_project_key", "tags", ["project_id", "key"])


def downgrade() -> None:
    for table in ("tags", "operations", "client_tokens", "instances", "reservations"):
        op.drop_table(table)
