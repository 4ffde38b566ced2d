"""Every EC2 action this proxy implements: the handler modules, imported once so that each registers its actions.

Dispatch asks here, never a handler module: the handlers package itself imports none of its modules, so no
import runs in a circle.
"""

from ec2proxy.handlers import (  # noqa: F401  (importing a handler module registers its actions)
    account,
    addresses,
    caller_identity,
    dhcp_options,
    handler_for,
    images,
    implemented,
    instance_attributes,
    instance_status,
    instance_types,
    instances,
    internet_gateways,
    keypairs,
    network_interfaces,
    regions,
    route_tables,
    security_groups,
    snapshots,
    subnets,
    tags,
    volumes,
    vpcs,
)

__all__ = ["handler_for", "implemented"]
