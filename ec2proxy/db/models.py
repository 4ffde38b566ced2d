"""The proxy's own tables. Schema changes go through Alembic revisions only."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Base(DeclarativeBase):
    pass


class Credential(Base):
    """An EC2 access key of the ``local`` credential source.

    The secret is kept as given: SigV4/SigV2 verification needs the secret
    itself, not a hash of it.
    """

    __tablename__ = "credentials"

    access_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ec2Id(Base):
    """One EC2 id (``i-0123...``) per OpenStack UUID, unique both ways."""

    __tablename__ = "ec2_ids"
    __table_args__ = (
        UniqueConstraint("kind", "os_id", name="uq_ec2_ids_kind_os_id"),
        Index("ix_ec2_ids_project", "project_id"),
    )

    ec2_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    os_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
