"""Network ACLs, honestly: every VPC has its default ACL, read-only.

On AWS a VPC's default network ACL allows all traffic in and out (rule 100)
and denies what no rule matches (the ``*`` rule, 32767), and every subnet of
the VPC is associated with it until another ACL is. Neutron filters traffic at
ports, by security groups; it has no subnet-level rule to realise an ACL with.
So each VPC shows that default ACL, which is what its traffic gets (allow
all), associated with each of its subnets and taggable; rules on it and
custom ACLs are refused, since accepting them would promise filtering that
never happens. Terraform reads each VPC's default ACL on every refresh.
"""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import by_network, network_state

_get = filters.path
FILTERS = {
    "network-acl-id": _get("NetworkAclId"), "vpc-id": _get("VpcId"), "default": _get("IsDefault"),
    "owner-id": _get("OwnerId"), "association.association-id": _get("Associations.NetworkAclAssociationId"),
    "association.network-acl-id": _get("Associations.NetworkAclId"),
    "association.subnet-id": _get("Associations.SubnetId"), "entry.cidr": _get("Entries.CidrBlock"),
    "entry.egress": _get("Entries.Egress"), "entry.protocol": _get("Entries.Protocol"),
    "entry.rule-action": _get("Entries.RuleAction"), "entry.rule-number": _get("Entries.RuleNumber"),
    "entry.ipv6-cidr": _get("Entries.Ipv6CidrBlock"), "entry.icmp.code": _get("Entries.IcmpTypeCode.Code"),
    "entry.icmp.type": _get("Entries.IcmpTypeCode.Type"), "entry.port-range.from": _get("Entries.PortRange.From"),
    "entry.port-range.to": _get("Entries.PortRange.To"), **tagging.FILTERS,
}
# A default ACL's rules, as AWS lists them: allow all, then the "*" rule denying what nothing allowed
ENTRIES = [{"RuleNumber": number, "Protocol": "-1", "RuleAction": action_, "Egress": egress,
            "CidrBlock": "0.0.0.0/0"} for egress in (True, False)
           for number, action_ in ((100, "allow"), (32767, "deny"))]
WHY = ("Neutron filters traffic at each port, by its security groups: a network ACL rule would promise filtering "
       "that never happens here. Every VPC has its default ACL (allow all), read-only; use security groups.")


def acl_id(network_id: str) -> str:
    return ids.from_uuid("acl", network_id)


def _shape(network: dict, subnets: list[dict], project_id: str) -> dict:
    acl = acl_id(network["id"])
    return {"NetworkAclId": acl, "VpcId": ids.from_uuid("vpc", network["id"]), "IsDefault": True,
            "OwnerId": project_id, "Entries": [dict(e) for e in ENTRIES],
            "Associations": [{"NetworkAclAssociationId": ids.from_uuid("aclassoc", s["id"]), "NetworkAclId": acl,
                              "SubnetId": ids.from_uuid("subnet", s["id"])} for s in subnets]}


async def _acls(ctx: RequestContext) -> list[dict]:
    state = await network_state(ctx)
    subnets = by_network(state["subnets"])
    return [_shape(n, [s for s in subnets.get(n["id"], []) if s.get("ip_version", 4) == 4], ctx.project_id)
            for n in state["networks"]]


@action("DescribeNetworkAcls")
async def describe_network_acls(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="NetworkAclIds")
    wanted = [ids.check("acl", i) for i in params.get("NetworkAclIds") or []]
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    shapes = await tag_reads.with_tags(ctx, await _acls(ctx), "NetworkAclId")
    shapes = filters.by_ids(shapes, "NetworkAclId", wanted, lambda missing: errors.not_found("NetworkAclID",
                                                                                             missing))
    return paging.answer(ctx, "NetworkAcls", filters.apply(shapes, compiled), params)


def _refused(name: str):
    async def refuse(ctx: RequestContext, params: dict) -> dict:
        raise errors.UnsupportedOperation(f"{name} is not offered by this cloud. {WHY}")
    return refuse


for _name in ("CreateNetworkAcl", "DeleteNetworkAcl", "CreateNetworkAclEntry", "ReplaceNetworkAclEntry",
              "DeleteNetworkAclEntry", "ReplaceNetworkAclAssociation"):
    action(_name)(_refused(_name))


@tag_reads.exists("acl")
async def _existing(ctx: RequestContext, acl_ids: list[str]) -> set[str]:
    return {a["NetworkAclId"] for a in await _acls(ctx)} & set(acl_ids)
