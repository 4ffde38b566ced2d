"""An EC2 answer item together with the backend object it shows.

The items of a ``Described`` are the EC2 shape, all that is ever serialized or
filtered on; ``os`` is what Glance, Cinder or Neutron returned, for the handler
that must act on it (delete it, read a property the shape does not carry).
"""

from __future__ import annotations


class Described(dict):
    __slots__ = ("os",)

    def __init__(self, shape: dict, os: dict):
        super().__init__(shape)
        self.os = os
