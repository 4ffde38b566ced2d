"""MariaDB/MySQL: text compared exactly, times to the microsecond

EC2 matches a ClientToken, a tag key or a key pair name exactly (case and
trailing spaces included): MariaDB's default collations fold case and pad
spaces, so every table is converted to a binary no-pad collation. DATETIME
keeps whole seconds unless asked: lease checks and "newest first" need
microseconds, as PostgreSQL and SQLite keep them. Nothing changes elsewhere.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("credentials", "ec2_ids", "reservations", "instances", "client_tokens", "operations", "tags", "key_pairs")
TIMES = (("credentials", "created_at", False), ("ec2_ids", "created_at", False),
         ("reservations", "created_at", False), ("instances", "launched_at", False),
         ("instances", "terminated_at", True), ("client_tokens", "created_at", False),
         ("client_tokens", "updated_at", False), ("operations", "created_at", False),
         ("operations", "updated_at", False), ("key_pairs", "created_at", False))


def _mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if not _mysql():
        return
    collation = "utf8mb4_nopad_bin" if getattr(op.get_bind().dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
    for table, column, nullable in TIMES:
        op.alter_column(table, column, type_=mysql.DATETIME(fsp=6), existing_nullable=nullable)


def downgrade() -> None:
    if not _mysql():
        return
    for table, column, nullable in TIMES:
        op.alter_column(table, column, type_=mysql.DATETIME(), existing_nullable=nullable)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
