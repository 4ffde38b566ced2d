"""VPN gateways and VPN connections: this cloud makes none (their Create* actions answer UnsupportedOperation),
so each listing is truthfully empty (customer gateways, a record only, are kept: handlers.customer_gateways).
Tools that tidy a VPC before deleting it (the retired ec2-api's suite, Terraform's VPC destroy) list its VPN
gateways first and stop when the listing fails."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, tagging
from ec2proxy.handlers import action

# (action, ids member, id prefix, output member, AWS's filter names)
LISTINGS = (
    ("DescribeVpnGateways", "VpnGatewayIds", "vgw", "VpnGateways",
     ("amazon-side-asn", "attachment.state", "attachment.vpc-id", "availability-zone", "state", "type",
      "vpn-gateway-id")),
    ("DescribeVpnConnections", "VpnConnectionIds", "vpn", "VpnConnections",
     ("customer-gateway-configuration", "customer-gateway-id", "state", "option.static-routes-only",
      "route.destination-cidr-block", "bgp-asn", "type", "vpn-connection-id", "vpn-gateway-id",
      "transit-gateway-id")),
)


def _empty_listing(ids_member: str, prefix: str, output: str, names: tuple[str, ...]):
    known = {name: filters.path(name) for name in names} | tagging.FILTERS

    async def describe(ctx: RequestContext, params: dict) -> dict:
        filters.compile_filters(params.get("Filters"), known, ctx.action)  # an unknown filter is still refused
        for wanted in params.get(ids_member) or []:
            ids.check(prefix, wanted)
            raise errors.not_found(ids.KINDS[prefix], wanted)
        return {output: []}

    return describe


for _name, _member, _prefix, _output, _filters in LISTINGS:
    action(_name)(_empty_listing(_member, _prefix, _output, _filters))
