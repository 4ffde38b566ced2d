"""DHCP options sets: Create/Delete/DescribeDhcpOptions, AssociateDhcpOptions (ec2proxy.state.dhcp_options
says where Neutron holds them)."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.db.models import DhcpOptions, utcnow
from ec2proxy.ec2 import errors, filters, ids, paging, servers, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels import own_rows, tag_reads
from ec2proxy.readmodels.networks import neutron_of, vpc_state
from ec2proxy.state import dhcp_options, write
from ec2proxy.state import own_rows as row_changes

_get = filters.path
FILTERS = {"dhcp-options-id": _get("DhcpOptionsId"), "key": _get("DhcpConfigurations.Key"),
           "value": _get("DhcpConfigurations.Values.Value"), "owner-id": _get("OwnerId"), **tagging.FILTERS}


def _shape(row: DhcpOptions) -> dict:
    return {"DhcpOptionsId": row.dhcp_options_id, "OwnerId": row.project_id,
            "DhcpConfigurations": [{"Key": c["Key"], "Values": [{"Value": v} for v in c["Values"]]}
                                   for c in row.configurations]}


def _not_found(dhcp_options_id: str) -> errors.EC2Error:
    return errors.not_found("DhcpOptionID", dhcp_options_id)


def _default_set(ctx: RequestContext) -> DhcpOptions:
    """The project's default set, as AWS's: the region's private domain and the cloud's own resolver (which is
    what Neutron gives a VPC with no set: nothing is written for it). Never stored."""
    return DhcpOptions(dhcp_options_id=vpcs.default_dhcp_options_id(ctx.project_id), project_id=ctx.project_id,
                       configurations=[{"Key": "domain-name", "Values": [servers.domain(ctx.region)]},
                                       {"Key": "domain-name-servers", "Values": [dhcp_options.AMAZON_DNS]}])


async def _rows(ctx: RequestContext, wanted: list[str] | None = None) -> list[DhcpOptions]:
    rows = await own_rows.rows(ctx, DhcpOptions, DhcpOptions.dhcp_options_id, wanted)
    default = _default_set(ctx)
    return ([default] if wanted is None or default.dhcp_options_id in wanted else []) + rows


async def _find(ctx: RequestContext, dhcp_options_id: str) -> DhcpOptions:
    found = await _rows(ctx, [ids.check("dopt", dhcp_options_id)])
    if not found:
        raise _not_found(dhcp_options_id)
    return found[0]


@action("CreateDhcpOptions", checks_dry_run=True)
async def create_dhcp_options(ctx: RequestContext, params: dict) -> dict:
    configurations = dhcp_options.validated(params.get("DhcpConfigurations") or [])
    tags = tagging.from_specs(params, ("dhcp-options",)).get("dhcp-options", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    row = DhcpOptions(dhcp_options_id=ids.new("dopt"), project_id=ctx.project_id, configurations=configurations,
                      created_at=utcnow())
    await write(ctx, row_changes.add, row, row.dhcp_options_id, tags)
    return {"DhcpOptions": {**_shape(row), "Tags": tags}}


@action("DescribeDhcpOptions")
async def describe_dhcp_options(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="DhcpOptionsIds")
    wanted = [ids.check("dopt", i) for i in params.get("DhcpOptionsIds") or []]
    shapes = await tag_reads.with_tags(ctx, [_shape(r) for r in await _rows(ctx, wanted or None)], "DhcpOptionsId")
    shapes = filters.by_ids(shapes, "DhcpOptionsId", wanted, _not_found)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), FILTERS, ctx.action))
    return paging.answer(ctx, "DhcpOptions", shapes, params)


@action("DeleteDhcpOptions", checks_dry_run=True)
async def delete_dhcp_options(ctx: RequestContext, params: dict) -> dict:
    row = await _find(ctx, params["DhcpOptionsId"])
    if row.dhcp_options_id == vpcs.default_dhcp_options_id(ctx.project_id):
        raise errors.UnsupportedOperation("The default DHCP options set is the cloud's own settings (Neutron's "
                                          "resolver and domain): it cannot be deleted here.")
    if await dhcp_options.in_use(ctx, row.dhcp_options_id):
        raise errors.DependencyViolation(
            f"The dhcpOptions '{row.dhcp_options_id}' has dependencies and cannot be deleted.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, row_changes.remove, DhcpOptions.dhcp_options_id, ctx.project_id, row.dhcp_options_id)
    return {}


@action("AssociateDhcpOptions", checks_dry_run=True)
async def associate_dhcp_options(ctx: RequestContext, params: dict) -> dict:
    """``default`` (the VPC then shows that word, as on AWS) and the project's default set take the VPC back to
    no options written: Neutron's own resolver and domain."""
    wanted = params["DhcpOptionsId"]
    chosen: DhcpOptions | None = None if wanted == "default" else await _find(ctx, wanted)
    if chosen is not None and chosen.dhcp_options_id == vpcs.default_dhcp_options_id(ctx.project_id):
        wanted, chosen = chosen.dhcp_options_id, None
    state = await vpc_state(ctx, params["VpcId"], with_ports=True)
    network = state["networks"][0]
    if network["id"] not in state["vpcs"]:
        raise errors.UnsupportedOperation(f"{params['VpcId']} is one of the project's own networks: its DHCP "
                                          "settings are OpenStack's (subnet name servers, port DHCP options).")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await dhcp_options.apply(neutron_of(await ctx.cloud()), state["subnets"], state["ports"],
                             chosen.configurations if chosen else None)
    await write(ctx, dhcp_options.associate, network["id"], chosen.dhcp_options_id if chosen else wanted)
    return {}


@tag_reads.exists("dopt")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return {r.dhcp_options_id for r in await _rows(ctx, resource_ids)}
