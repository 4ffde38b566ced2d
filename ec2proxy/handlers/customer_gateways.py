"""Customer gateways: Create/Describe/DeleteCustomerGateway.

On AWS a customer gateway is only a record of the other end of a site-to-site
VPN (its public address, BGP ASN and type); nothing happens until a VPN
connection uses it. It is kept the same way here, in our database. This cloud
makes no VPN gateway or connection (``ec2proxy.handlers.vpn``), so a gateway
is never in use.
"""

from __future__ import annotations

import ipaddress

from ec2proxy.context import RequestContext
from ec2proxy.db.models import CustomerGateway, utcnow
from ec2proxy.ec2 import errors, filters, ids, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import own_rows, tag_reads
from ec2proxy.state import own_rows as row_changes
from ec2proxy.state import write

_get = filters.path
FILTERS = {"bgp-asn": _get("BgpAsn"), "customer-gateway-id": _get("CustomerGatewayId"),
           "ip-address": _get("IpAddress"), "state": _get("State"), "type": _get("Type"), **tagging.FILTERS}
DEFAULT_ASN = 65000  # CreateCustomerGateway: BgpAsn "Default: 65000"
ASN_RANGE = (1, 2_147_483_647)  # BgpAsn; the larger ones go in BgpAsnExtended
EXTENDED_RANGE = (2_147_483_648, 4_294_967_295)


def _shape(row: CustomerGateway) -> dict:
    extended = row.bgp_asn >= EXTENDED_RANGE[0]
    return {"CustomerGatewayId": row.customer_gateway_id, "State": "available", "Type": row.type,
            "IpAddress": row.ip_address, **({"BgpAsnExtended": str(row.bgp_asn)} if extended else
                                           {"BgpAsn": str(row.bgp_asn)}),
            **({"DeviceName": row.device_name} if row.device_name else {})}


def _asn(params: dict) -> int:
    asn, extended = params.get("BgpAsn"), params.get("BgpAsnExtended")
    if asn is not None and extended is not None:
        raise errors.InvalidParameterCombination("Specify either BgpAsn or BgpAsnExtended, not both")
    if extended is not None:
        low, high, value, name = *EXTENDED_RANGE, extended, "BgpAsnExtended"
    else:
        low, high, value, name = *ASN_RANGE, DEFAULT_ASN if asn is None else asn, "BgpAsn"
    if not low <= int(value) <= high:
        raise errors.InvalidParameterValue(f"Value ({value}) for parameter {name} is invalid: it must be between "
                                           f"{low} and {high}")
    return int(value)


def _address(params: dict) -> str:
    given = params.get("IpAddress") or params.get("PublicIp")  # PublicIp: the deprecated name of the same
    if not given:
        raise errors.MissingParameter("The request must contain the parameter IpAddress")
    try:
        address = ipaddress.ip_address(given)
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({str(given)[:64]}) for parameter IpAddress is invalid: not an "
                                           "IPv4 address") from None
    if address.version != 4:
        raise errors.InvalidParameterValue(f"Value ({given}) for parameter IpAddress is invalid: not an IPv4 "
                                           "address")
    return str(address)


async def _rows(ctx: RequestContext, wanted: list[str] | None = None) -> list[CustomerGateway]:
    return await own_rows.rows(ctx, CustomerGateway, CustomerGateway.customer_gateway_id, wanted)


@action("CreateCustomerGateway", checks_dry_run=True)
async def create_customer_gateway(ctx: RequestContext, params: dict) -> dict:
    """An identical request (type, address, ASN, device name) answers the existing gateway, as AWS does."""
    if params["Type"] != "ipsec.1":
        raise errors.InvalidParameterValue(f"Value ({str(params['Type'])[:32]}) for parameter Type is invalid: "
                                           "the only type is ipsec.1")
    if params.get("CertificateArn"):
        raise errors.UnsupportedOperation("This cloud has no certificate manager: give the gateway's IpAddress.")
    address, asn, device = _address(params), _asn(params), params.get("DeviceName") or None
    if device is not None and len(device) > 255:
        raise errors.InvalidParameterValue("DeviceName is at most 255 characters long")
    tags = tagging.from_specs(params, ("customer-gateway",)).get("customer-gateway", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    same = [r for r in await _rows(ctx) if (r.type, r.ip_address, r.bgp_asn, r.device_name) ==
            (params["Type"], address, asn, device)]
    if same:
        shapes = await tag_reads.with_tags(ctx, [_shape(same[0])], "CustomerGatewayId")
        return {"CustomerGateway": shapes[0]}
    row = CustomerGateway(customer_gateway_id=ids.new("cgw"), project_id=ctx.project_id, type=params["Type"],
                          ip_address=address, bgp_asn=asn, device_name=device, created_at=utcnow())
    await write(ctx, row_changes.add, row, row.customer_gateway_id, tags)
    return {"CustomerGateway": {**_shape(row), "Tags": tags}}


def _not_found(customer_gateway_id: str) -> errors.EC2Error:
    return errors.not_found("CustomerGatewayID", customer_gateway_id)


@action("DescribeCustomerGateways")
async def describe_customer_gateways(ctx: RequestContext, params: dict) -> dict:
    wanted = [ids.check("cgw", i) for i in params.get("CustomerGatewayIds") or []]
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    shapes = await tag_reads.with_tags(ctx, [_shape(r) for r in await _rows(ctx, wanted or None)],
                                     "CustomerGatewayId")
    shapes = filters.by_ids(shapes, "CustomerGatewayId", wanted, _not_found)
    return {"CustomerGateways": filters.apply(shapes, compiled)}


@action("DeleteCustomerGateway", checks_dry_run=True)
async def delete_customer_gateway(ctx: RequestContext, params: dict) -> dict:
    gateway_id = ids.check("cgw", params["CustomerGatewayId"])
    if not await _rows(ctx, [gateway_id]):
        raise _not_found(gateway_id)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, row_changes.remove, CustomerGateway.customer_gateway_id, ctx.project_id, gateway_id)
    return {}


@tag_reads.exists("cgw")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return {r.customer_gateway_id for r in await _rows(ctx, resource_ids)}
