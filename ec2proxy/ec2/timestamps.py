"""Times as OpenStack writes them (ISO 8601, with or without a zone) and as EC2 filters compare them."""

from __future__ import annotations

import datetime


def parse(text: str | None) -> datetime.datetime | None:
    """An aware datetime from an OpenStack timestamp; naive ones are UTC, as OpenStack means them."""
    if not text:
        return None
    return aware(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))


def aware(stamp: datetime.datetime) -> datetime.datetime:
    """A datetime with its zone; a naive one is UTC (OpenStack writes them so, SQLite keeps no zone)."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def ec2_text(stamp: datetime.datetime | None) -> str:
    """The text EC2 shows and filters on (``2024-01-02T03:04:05.000Z``); "" without a time."""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z") if stamp else ""
