"""What migration 0006 made every table on MariaDB/MySQL, for the tables later migrations create: a binary,
no-pad collation (EC2 matches ClientTokens, tag keys and names exactly) and times to the microsecond."""

from __future__ import annotations


def exact_text_and_microseconds(table: str, *times: str, nullable: tuple[str, ...] = ()) -> None:
    """In a migration: ``table`` as 0006 made the others, its ``times`` columns (not null) and its ``nullable``
    ones to the microsecond; nothing on other databases."""
    from alembic import op
    from sqlalchemy.dialects import mysql

    bind = op.get_bind()
    if bind.dialect.name not in ("mysql", "mariadb"):
        return
    collation = "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
    for column in (*times, *nullable):
        op.alter_column(table, column, type_=mysql.DATETIME(fsp=6), existing_nullable=column in nullable)
