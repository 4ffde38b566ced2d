"""An EC2 answer item together with the backend object it shows.

``shape`` is the EC2 item, all that is ever serialized or filtered on; ``os``
is what Glance, Cinder or Neutron returned, for the handler that must act on
it (delete it, read a property the shape does not carry). Two fields, not a
dict with an attribute on the side: copying the shape never carries the
backend object along unseen, and reading either is checked.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(slots=True)
class Described:
    shape: dict
    os: dict


def shape_of(found: Described) -> dict:
    """Where a record's EC2 item is, for what filters and pages records (``filters.apply(..., of=shape_of)``)."""
    return found.shape


def shapes(found: list[Described]) -> list[dict]:
    return [d.shape for d in found]
