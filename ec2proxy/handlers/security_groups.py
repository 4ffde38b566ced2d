"""Security groups: Neutron security groups and rules, as EC2 VPC security groups."""

from __future__ import annotations

import asyncio
import datetime
import functools

from ec2proxy.cloud import BackendError, BackendNotFound, removed
from ec2proxy.context import RequestContext
from ec2proxy.db.models import VpcGroup, utcnow
from ec2proxy.ec2 import errors, filters, ids, paging, permissions, tagging, vpcs
from ec2proxy.ec2.records import Described, shapes
from ec2proxy.handlers import action
from ec2proxy.readmodels import live_groups, live_instances, tag_reads
from ec2proxy.readmodels import networks as network_reads
from ec2proxy.readmodels.networks import default_vpc_id, neutron_of
from ec2proxy.state import port_tags, rule_overlays, write
from ec2proxy.state import security_groups as group_records

_get = filters.path


def _permission_filters(prefix: str, member: str) -> dict:
    return {
        f"{prefix}.cidr": _get(f"{member}.IpRanges.CidrIp"),
        f"{prefix}.ipv6-cidr": _get(f"{member}.Ipv6Ranges.CidrIpv6"),
        f"{prefix}.from-port": _get(f"{member}.FromPort"), f"{prefix}.to-port": _get(f"{member}.ToPort"),
        f"{prefix}.protocol": _get(f"{member}.IpProtocol"),
        f"{prefix}.group-id": _get(f"{member}.UserIdGroupPairs.GroupId"),
        f"{prefix}.group-name": _get(f"{member}.UserIdGroupPairs.GroupName"),
        f"{prefix}.user-id": _get(f"{member}.UserIdGroupPairs.UserId"),
        f"{prefix}.prefix-list-id": _get(f"{member}.PrefixListIds.PrefixListId"),
    }


FILTERS = {
    "description": _get("Description"), "group-id": _get("GroupId"), "group-name": _get("GroupName"),
    "owner-id": _get("OwnerId"), "vpc-id": _get("VpcId"), **tagging.FILTERS,
    **_permission_filters("ip-permission", "IpPermissions"),
    **_permission_filters("egress.ip-permission", "IpPermissionsEgress"),
}
RULE_FILTERS = {"group-id": _get("GroupId"), "security-group-rule-id": _get("SecurityGroupRuleId"),
                **tagging.FILTERS}


async def _groups(ctx: RequestContext, overlays: dict[str, rule_overlays.Overlay] | None = None,
                  since: datetime.datetime | None = None) -> list[dict]:
    """The project's Neutron groups with their rules (one listing), with the rule descriptions set through EC2
    (``overlays``: already read; else one query); ``since``: when the read began, and what it read refreshes
    the live view."""
    view = await ctx.cloud()
    if overlays is None:
        listed, overlays = await asyncio.gather(neutron_of(view).list("security_group"),
                                                rule_overlays.load(ctx.services.sessions, ctx.project_id))
    else:
        listed = await neutron_of(view).list("security_group")
    groups = [g for g in listed if g.get("project_id", g.get("tenant_id")) in (None, ctx.project_id)]
    if since is not None:
        await live_groups.remember(ctx, groups, since)
    rule_overlays.apply(groups, overlays)
    return groups


def _shape(group: dict, project_id: str, vpc_id: str | None, names: dict[str, str],
           vpc_groups: dict[str, VpcGroup]) -> Described:
    rules = group.get("security_group_rules") or []
    row = vpc_groups.get(group["id"])
    if row is not None:
        vpc_id = ids.from_uuid("vpc", row.vpc_os_id)
    return Described({"GroupId": ids.from_uuid("sg", group["id"]),
            "GroupName": "default" if row is not None and row.is_default else group["name"],
            "Description": group.get("description") or "", "OwnerId": project_id, "VpcId": vpc_id,
            "IpPermissions": permissions.permissions(rules, False, project_id, names),
            "IpPermissionsEgress": permissions.permissions(rules, True, project_id, names)}, group)


async def describe(ctx: RequestContext, group_ids: list[str] | None = None, remember: bool = False) -> list[Described]:
    """The project's groups as EC2 shows them; ``group_ids`` this process has seen are shown by GET, without
    listing the project's every group; ``remember``: the live view answers for ``group_ids`` when it can vouch
    for them, and what is read directly refreshes it."""
    view = await ctx.cloud()
    live = remember and ctx.services.live.configured
    viewed = await live_instances.answered(ctx, live_groups.groups(ctx, group_ids)) if live and group_ids else None
    since = utcnow()
    shown, vpc_id, (vpc_groups, overlays, tags) = await asyncio.gather(
        _shown(ctx, view, group_ids) if group_ids and viewed is None else asyncio.sleep(0), default_vpc_id(ctx),
        group_records.stored(ctx, group_ids))
    if viewed is not None:
        groups, names = viewed
        rule_overlays.apply(groups, overlays)
    elif shown is None:
        groups, tags = await _groups(ctx, overlays, since if live else None), None
        names = {g["id"]: g["name"] for g in groups}
    else:
        if live:
            await live_groups.remember(ctx, shown, since)
        groups = shown
        rule_overlays.apply(groups, overlays)
        referenced = {r["remote_group_id"] for g in groups for r in g.get("security_group_rules") or []
                      if r.get("remote_group_id")} - {g["id"] for g in groups}
        others = await neutron_of(view).list("security_group", {"id": sorted(referenced), "fields": ["id", "name"]}) \
            if referenced else []
        names = {g["id"]: g["name"] for g in [*groups, *others]}
    return await tag_reads.tagged(ctx, [_shape(g, ctx.project_id, vpc_id, names, vpc_groups) for g in groups],
                                   "GroupId", tags=tags)


async def _shown(ctx: RequestContext, view, group_ids: list[str]) -> list[dict] | None:
    """The groups behind ``group_ids`` by one GET each, when this process knows their Neutron ids and all are
    the caller's; None: ask the listing."""
    known = [ids.os_id_of(group_id) for group_id in group_ids]
    os_ids = [os_id for os_id in known if os_id is not None]
    if len(group_ids) > 20 or len(os_ids) != len(known):
        return None

    async def show(os_id: str) -> dict | None:
        try:
            return await neutron_of(view).show("security_group", os_id)
        except BackendNotFound:
            return None

    found = await asyncio.gather(*(show(o) for o in os_ids))
    shown = [g for g in found if g is not None and g.get("project_id", g.get("tenant_id")) in (None, ctx.project_id)]
    return shown if len(shown) == len(found) else None  # else the listing says which is missing


@tag_reads.exists("sg")
async def _existing(ctx: RequestContext, group_ids: list[str]) -> set[str]:
    return {ids.from_uuid("sg", g["id"]) for g in await _groups(ctx)} & set(group_ids)


@tag_reads.exists("sgr")
async def _existing_rules(ctx: RequestContext, rule_ids: list[str]) -> set[str]:
    overlays = await rule_overlays.load(ctx.services.sessions, ctx.project_id)
    return {rule_overlays.rule_id(rule, overlays) for group in await _groups(ctx, overlays)
            for rule in group.get("security_group_rules") or []} & set(rule_ids)


def _find(groups: list[dict], group_id: str | None = None, name: str | None = None) -> dict:
    if group_id:
        ids.check("sg", group_id)
        found = [g for g in groups if ids.from_uuid("sg", g["id"]) == group_id]
        if not found:
            raise errors.InvalidGroupNotFound(f"The security group '{group_id}' does not exist")
        return found[0]
    found = [g for g in groups if g["name"] == name]
    if not found:
        raise errors.InvalidGroupNotFound(f"The security group '{str(name)[:255]}' does not exist in default VPC")
    if len(found) > 1:
        raise errors.InvalidParameterValue(f"More than one security group is named '{name}'; use its GroupId.")
    return found[0]


@action("DescribeSecurityGroups")
async def describe_security_groups(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, ids_member="GroupIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    by_id = params.get("GroupIds") if not params.get("GroupNames") else None
    groups = await describe(ctx, [ids.check("sg", i) for i in by_id] if by_id else None, remember=True)
    os_groups = [g.os for g in groups]
    wanted = [_find(os_groups, group_id=i)["id"] for i in params.get("GroupIds") or []]
    wanted += [_find(os_groups, name=n)["id"] for n in params.get("GroupNames") or []]
    if wanted:
        groups = [g for g in groups if g.os["id"] in wanted]
    return paging.answer(ctx, "SecurityGroups", filters.apply(shapes(groups), compiled), params)


@action("DescribeSecurityGroupRules")
async def describe_security_group_rules(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, ids_member="SecurityGroupRuleIds")
    compiled = filters.compile_filters(params.get("Filters"), RULE_FILTERS, ctx.action)
    overlays = await rule_overlays.load(ctx.services.sessions, ctx.project_id)
    rules = [permissions.rule_shape(rule, ctx.project_id, rule_overlays.rule_id(rule, overlays))
             for group in await _groups(ctx, overlays) for rule in group.get("security_group_rules") or []]
    wanted = [ids.check("sgr", i) for i in params.get("SecurityGroupRuleIds") or []]
    rules = filters.by_ids(rules, "SecurityGroupRuleId", wanted, lambda missing: (
        errors.not_found("SecurityGroupRuleId", missing)))
    rules = await tag_reads.with_tags(ctx, rules, "SecurityGroupRuleId")
    return paging.answer(ctx, "SecurityGroupRules", filters.apply(rules, compiled), params)


def _check_text(value: str, what: str) -> str:
    if not value or len(value) > 255 or not value.isascii():
        raise errors.InvalidParameterValue(f"{what} must be 1 to 255 ASCII characters")
    return value


@action("CreateSecurityGroup")
async def create_security_group(ctx: RequestContext, params: dict) -> dict:
    name = _check_text(params["GroupName"], "GroupName")
    description = _check_text(params["Description"], "GroupDescription")
    if name.lower().startswith("sg-") or vpcs.VPC_DEFAULT_GROUP.fullmatch(name):
        raise errors.InvalidParameterValue("Group names may not be in the format sg-* nor vpc-*-default")
    if name == "default":
        raise errors.InvalidParameterValue("Cannot use reserved security group name: default")
    tags = tagging.from_specs(params, ("security-group",)).get("security-group", [])
    view = await ctx.cloud()
    networks, groups, vpc_groups = await asyncio.gather(neutron_of(view).list("network"), _groups(ctx),
                                                        network_reads.vpc_groups(ctx))
    vpc_os_id = None  # the default VPC's
    if params.get("VpcId"):
        vpc = ids.check("vpc", params["VpcId"])
        network = next((n for n in vpcs.usable(networks, ctx.project_id) if vpcs.vpc_id(n) == vpc), None)
        if network is None:
            raise errors.not_found("VpcID", vpc)
        if any(row.vpc_os_id == network["id"] for row in vpc_groups.values()):  # a VPC made through EC2
            vpc_os_id = network["id"]
    same_vpc = [g for g in groups if (vpc_groups[g["id"]].vpc_os_id if g["id"] in vpc_groups else None) == vpc_os_id]
    if any(g["name"] == name for g in same_vpc):  # names are unique within a VPC
        raise errors.InvalidGroupDuplicate(f"The security group '{name}' already exists for VPC")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    group = await neutron_of(view).create("security_group", {"name": name, "description": description})
    group_id = ids.from_uuid("sg", group["id"])
    try:
        if vpc_os_id is not None:  # an EC2 VPC has no IPv6 block: its groups start with AWS's one egress rule
            await port_tags.drop_ipv6_egress(view.neutron, group)
        await write(ctx, group_records.record, ctx.project_id, group_id, group["id"], vpc_os_id, tags)
    except BaseException:
        await neutron_of(view).remove("security_group", group["id"])
        raise
    return {"GroupId": group_id, "Tags": tags}


@action("DeleteSecurityGroup", checks_dry_run=True)
async def delete_security_group(ctx: RequestContext, params: dict) -> dict:
    if not params.get("GroupId") and not params.get("GroupName"):
        raise errors.MissingParameter("The request must contain the parameter GroupId or GroupName")
    groups, vpc_groups = await asyncio.gather(_groups(ctx), network_reads.vpc_groups(ctx))
    group = _find(groups, params.get("GroupId"), params.get("GroupName"))
    group_id = ids.from_uuid("sg", group["id"])
    row = vpc_groups.get(group["id"])
    if group["name"] == "default" or (row is not None and row.is_default):
        raise errors.CannotDelete("The default security group cannot be deleted")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    neutron = neutron_of(view)
    try:
        await removed(lambda: neutron.remove("security_group", group["id"]))
    except BackendError as exc:
        if exc.status != 409:
            raise
        # in use: by ports whose instance has ended and whose removal job is due (they go now), or for good
        holders = await neutron.list("port", {"security_groups": group["id"],
                                              "fields": ["id", "device_id", "tags", "security_groups"]})
        condemned = [p["id"] for p in holders if group["id"] in (p.get("security_groups") or [])
                     and vpcs.condemned(p)]
        if not condemned:
            raise errors.DependencyViolation(f"resource {group_id} has a dependent object") from None
        await removed(*(functools.partial(neutron.remove, "port", port_id) for port_id in condemned))
        try:
            await removed(lambda: neutron.remove("security_group", group["id"]))
        except BackendError as again:
            if again.status == 409:
                raise errors.DependencyViolation(f"resource {group_id} has a dependent object") from None
            raise
    await write(ctx, group_records.forget, ctx.project_id, group_id, group["id"])
    return {"Return": True, "GroupId": group_id}


def _legacy_permission(params: dict, egress: bool) -> list[dict]:
    """The flat parameters (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName) as one permission."""
    flat = {k: params.get(k) for k in ("IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName",
                                       "SourceSecurityGroupOwnerId")}
    if not any(v is not None for v in flat.values()):
        return []
    if params.get("IpPermissions"):
        raise errors.InvalidParameterCombination("Use either IpPermissions or the flat rule parameters, not both")
    if egress:
        raise errors.InvalidParameterCombination("Egress rules take IpPermissions only")
    permission: dict = {"IpProtocol": flat["IpProtocol"] if flat["IpProtocol"] is not None else "-1",
                        "FromPort": flat["FromPort"], "ToPort": flat["ToPort"]}
    if flat["CidrIp"] is not None:
        permission["IpRanges"] = [{"CidrIp": flat["CidrIp"]}]
    if flat["SourceSecurityGroupName"] is not None:
        permission["UserIdGroupPairs"] = [{"GroupName": flat["SourceSecurityGroupName"],
                                           "UserId": flat["SourceSecurityGroupOwnerId"]}]
    if "IpRanges" not in permission and "UserIdGroupPairs" not in permission:
        permission["IpRanges"] = [{"CidrIp": permissions.ALL_V4}]
    return [permission]


async def _rule_change(ctx: RequestContext, params: dict, egress: bool):
    """(the group, the Neutron rules it has, the (key, description) pairs the request names)."""
    groups = await _groups(ctx)
    group = _find(groups, params.get("GroupId"), params.get("GroupName"))
    asked = (params.get("IpPermissions") or []) + _legacy_permission(params, egress)
    if not asked:
        raise errors.MissingParameter("The request must contain the parameter IpPermissions")

    def group_uuid(pair: dict) -> str:
        if pair.get("UserId") not in (None, "", ctx.project_id):
            raise errors.UnsupportedOperation("Rules referring to another account's groups are not supported.")
        return _find(groups, pair.get("GroupId"), pair.get("GroupName"))["id"]

    wanted = permissions.requested(asked, egress, group_uuid)
    return group, group.get("security_group_rules") or [], wanted


async def _authorize(ctx: RequestContext, params: dict, egress: bool) -> dict:
    group, rules, wanted = await _rule_change(ctx, params, egress)
    have = {permissions.from_rule(r) for r in rules}
    duplicate = next((key for key, _ in wanted if key in have), None)
    if duplicate is not None:
        raise errors.InvalidPermissionDuplicate(
            f"the specified rule \"peer: {duplicate[4][1]}, {duplicate[1]}, from port: "
            f"{duplicate[2]}, to port: {duplicate[3]}, ALLOW\" already exists")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    bodies = [body for key, description in dict(wanted).items()
              for body in permissions.to_rules(key, description, group["id"])]
    view = await ctx.cloud()
    try:  # one bulk create: Neutron makes all the rules or none
        created = await neutron_of(view).create_many("security_group_rule", bodies)
    except BackendError as exc:
        if exc.status == 409:
            raise errors.InvalidPermissionDuplicate(f"A rule already exists: {exc.message[:200]}") from None
        raise
    return {"Return": True, "SecurityGroupRules": [
        permissions.rule_shape(r, ctx.project_id, ids.from_uuid("sgr", r["id"])) for r in created]}


def _existing_by_key(rules: list[dict], wanted: list[tuple[tuple, str]]) -> dict[tuple, list[dict]]:
    """The group's Neutron rules by EC2 key; every key the request names must be among them."""
    by_key: dict[tuple, list[dict]] = {}
    for rule in rules:
        by_key.setdefault(permissions.from_rule(rule), []).append(rule)
    missing = next((key for key, _ in wanted if key not in by_key), None)
    if missing is not None:
        raise errors.InvalidPermissionNotFound(
            f"The specified rule does not exist in this security group: {missing[1]} "
            f"{missing[2]}-{missing[3]} {missing[4][1]}")
    return by_key


async def _revoke(ctx: RequestContext, params: dict, egress: bool) -> dict:
    group, rules, wanted = await _rule_change(ctx, params, egress)
    by_key = _existing_by_key(rules, wanted)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    doomed = {rule["id"] for key, _ in wanted for rule in by_key[key]}

    async def remove(rule_id: str) -> None:
        try:
            await neutron_of(view).remove("security_group_rule", rule_id)
        except BackendNotFound:
            pass

    await asyncio.gather(*(remove(r) for r in sorted(doomed)))
    await rule_overlays.put(ctx.services.sessions, ctx.project_id, {}, sorted(doomed))
    return {"Return": True}


@action("AuthorizeSecurityGroupIngress", checks_dry_run=True)
async def authorize_security_group_ingress(ctx: RequestContext, params: dict) -> dict:
    return await _authorize(ctx, params, egress=False)


@action("AuthorizeSecurityGroupEgress", checks_dry_run=True)
async def authorize_security_group_egress(ctx: RequestContext, params: dict) -> dict:
    return await _authorize(ctx, params, egress=True)


@action("RevokeSecurityGroupIngress", checks_dry_run=True)
async def revoke_security_group_ingress(ctx: RequestContext, params: dict) -> dict:
    return await _revoke(ctx, params, egress=False)


@action("RevokeSecurityGroupEgress", checks_dry_run=True)
async def revoke_security_group_egress(ctx: RequestContext, params: dict) -> dict:
    return await _revoke(ctx, params, egress=True)


def _rules_by_id(group: dict, overlays: dict[str, rule_overlays.Overlay], wanted: list[str],
                 egress: bool | None) -> dict[str, dict]:
    """The group's Neutron rules behind the sgr- ids asked for (in the direction asked for, if one is)."""
    known = {rule_overlays.rule_id(r, overlays): r for r in group.get("security_group_rules") or []
             if egress is None or (r.get("direction") == "egress") == egress}
    for rule_id in wanted:
        if ids.check("sgr", rule_id) not in known:
            raise errors.not_found("SecurityGroupRuleId", rule_id)
    return {rule_id: known[rule_id] for rule_id in wanted}


async def _update_descriptions(ctx: RequestContext, params: dict, egress: bool) -> dict:
    """New descriptions for existing rules, named by their permissions or by their sgr- ids."""
    overlays = await rule_overlays.load(ctx.services.sessions, ctx.project_id)
    by_rule_id = params.get("SecurityGroupRuleDescriptions") or []
    if by_rule_id:
        if params.get("IpPermissions"):
            raise errors.InvalidParameterCombination("Name the rules by IpPermissions or by "
                                                     "SecurityGroupRuleDescriptions, not both")
        group = _find(await _groups(ctx, overlays), params.get("GroupId"), params.get("GroupName"))
        found = _rules_by_id(group, overlays, [d.get("SecurityGroupRuleId") or "" for d in by_rule_id], egress)
        described = [(found[d["SecurityGroupRuleId"]], d.get("Description") or "") for d in by_rule_id]
    else:
        group, rules, wanted = await _rule_change(ctx, params, egress)
        by_key = _existing_by_key(rules, wanted)
        described = [(rule, description) for key, description in wanted for rule in by_key[key]]
    for _, description in described:
        if len(description) > 255:
            raise errors.InvalidParameterValue("Rule descriptions are at most 255 characters")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await rule_overlays.put(ctx.services.sessions, ctx.project_id, {
        rule["id"]: rule_overlays.described(overlays, rule["id"], description) for rule, description in described})
    return {"Return": True}


@action("UpdateSecurityGroupRuleDescriptionsIngress", checks_dry_run=True)
async def update_security_group_rule_descriptions_ingress(ctx: RequestContext, params: dict) -> dict:
    return await _update_descriptions(ctx, params, egress=False)


@action("UpdateSecurityGroupRuleDescriptionsEgress", checks_dry_run=True)
async def update_security_group_rule_descriptions_egress(ctx: RequestContext, params: dict) -> dict:
    return await _update_descriptions(ctx, params, egress=True)


def _requested_rule(request: dict, egress: bool, group_uuid) -> tuple[tuple, str]:
    """The (key, description) of one SecurityGroupRuleRequest."""
    if request.get("PrefixListId"):
        raise errors.UnsupportedOperation("Prefix lists are not supported by this cloud.")
    sources = [k for k in ("CidrIpv4", "CidrIpv6", "ReferencedGroupId") if request.get(k)]
    if len(sources) != 1:
        raise errors.InvalidParameterCombination("A rule needs exactly one of CidrIpv4, CidrIpv6 and "
                                                 "ReferencedGroupId")
    described = {"Description": request["Description"]} if request.get("Description") else {}
    permission: dict = {"IpProtocol": request.get("IpProtocol") or "-1", "FromPort": request.get("FromPort"),
                        "ToPort": request.get("ToPort")}
    if request.get("CidrIpv4"):
        permission["IpRanges"] = [{"CidrIp": request["CidrIpv4"], **described}]
    elif request.get("CidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": request["CidrIpv6"], **described}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": request["ReferencedGroupId"], **described}]
    (wanted,) = permissions.requested([permission], egress, group_uuid)
    return wanted


@action("ModifySecurityGroupRules", checks_dry_run=True)
async def modify_security_group_rules(ctx: RequestContext, params: dict) -> dict:
    """Each rule becomes what the request says, under its own sgr- id. A new description is recorded over the
    rule; new traffic is a new Neutron rule made before the old one is removed."""
    overlays = await rule_overlays.load(ctx.services.sessions, ctx.project_id)
    groups = await _groups(ctx, overlays)
    group = _find(groups, params.get("GroupId"))
    changes = params.get("SecurityGroupRules") or []
    if not changes:
        raise errors.MissingParameter("The request must contain the parameter SecurityGroupRules")
    found = _rules_by_id(group, overlays, [c.get("SecurityGroupRuleId") or "" for c in changes], None)
    have = {permissions.from_rule(r) for r in group.get("security_group_rules") or []}
    plan = []
    for change in changes:
        old = found[change["SecurityGroupRuleId"]]
        egress = old.get("direction") == "egress"
        key, description = _requested_rule(change.get("SecurityGroupRule") or {}, egress,
                                           lambda pair: _find(groups, pair.get("GroupId"))["id"])
        if key != permissions.from_rule(old) and key in have:
            raise errors.InvalidPermissionDuplicate(
                "The rule the request asks for already exists in this security group")
        plan.append((change["SecurityGroupRuleId"], old, key, description))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    kept: dict[str, rule_overlays.Overlay] = {}
    replaced: list[str] = []
    for rule_id, old, key, description in plan:
        if key == permissions.from_rule(old):
            kept[old["id"]] = rule_overlays.described(overlays, old["id"], description)
            continue
        bodies = [b for b in permissions.to_rules(key, description, group["id"])
                  if b["ethertype"] == old.get("ethertype", b["ethertype"]) or key[4][0] != "group"]
        (created,) = await neutron_of(view).create_many("security_group_rule", bodies[:1])
        kept[created["id"]] = rule_overlays.Overlay(rule_id, None)
        try:
            await neutron_of(view).remove("security_group_rule", old["id"])
        except BackendNotFound:
            pass
        replaced.append(old["id"])
    await rule_overlays.put(ctx.services.sessions, ctx.project_id, kept, replaced)
    return {"Return": True}
