"""credentials.roles: the Keystone-style roles a local access key acts with; keys made before are members

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("roles", sa.String(255), nullable=False, server_default="member"))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("roles")
