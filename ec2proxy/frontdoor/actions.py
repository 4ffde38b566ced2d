"""Every EC2 action this proxy implements: the handler modules, imported once so that each registers its actions,
and the policy rules made from them (one per action, ``ec2proxy.auth.policy``).

Dispatch asks here, never a handler module: the handlers package itself imports none of its modules, so no
import runs in a circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oslo_policy.policy import Enforcer, RuleDefault

from ec2proxy.auth import policy
from ec2proxy.handlers import (  # noqa: F401  (importing a handler module registers its actions)
    account,
    addresses,
    caller_identity,
    customer_gateways,
    dhcp_options,
    handler_for,
    images,
    implemented,
    instance_attributes,
    instance_states,
    instance_status,
    instance_types,
    instances,
    internet_gateways,
    keypairs,
    launch_templates,
    network_acls,
    network_interfaces,
    placement_groups,
    regions,
    registered,
    route_tables,
    security_groups,
    snapshots,
    subnets,
    tags,
    volumes,
    vpcs,
    vpn,
)

if TYPE_CHECKING:
    from ec2proxy.config import Config

__all__ = ["handler_for", "implemented", "list_rules", "get_enforcer", "load_policy"]


def list_rules() -> list[RuleDefault]:
    """The default rules (entry point ``oslo.policy.policies``: oslopolicy-sample-generator --namespace ec2proxy)."""
    return policy.action_rules(registered())


def load_policy(config: Config) -> policy.Policy:
    """The rules in force for this configuration; a bad policy file raises PolicyFileError (one line)."""
    path = config.policy_path
    return policy.Policy(list_rules(), str(path) if path else None)


def get_enforcer() -> Enforcer:
    """The enforcer of the configuration ``EC2PROXY_CONFIG`` names, or the defaults (entry point
    ``oslo.policy.enforcer``: oslopolicy-policy-generator --namespace ec2proxy)."""
    import os

    from ec2proxy import config as configuration

    return load_policy(configuration.load(os.environ.get("EC2PROXY_CONFIG") or None)).enforcer
