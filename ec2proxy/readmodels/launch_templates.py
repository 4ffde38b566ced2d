"""Launch templates and their versions as EC2 shows them, from our rows."""

from __future__ import annotations

from sqlalchemy import select

from ec2proxy.context import RequestContext
from ec2proxy.db.models import LaunchTemplate, LaunchTemplateVersion
from ec2proxy.ec2 import errors, filters, ids, launch_templates, tagging, timestamps
from ec2proxy.readmodels import own_rows, tag_reads

_get = filters.path
FILTERS = {"create-time": lambda t: timestamps.ec2_text(t["CreateTime"]),
           "launch-template-name": _get("LaunchTemplateName"), **tagging.FILTERS}
_data = filters.path
VERSION_FILTERS = {
    "create-time": lambda v: timestamps.ec2_text(v["CreateTime"]),
    "ebs-optimized": lambda v: str(bool(v["LaunchTemplateData"].get("EbsOptimized"))).lower(),
    "http-endpoint": _data("LaunchTemplateData.MetadataOptions.HttpEndpoint"),
    "http-tokens": _data("LaunchTemplateData.MetadataOptions.HttpTokens"),
    "http-protocol-ipv6": _data("LaunchTemplateData.MetadataOptions.HttpProtocolIpv6"),
    "host-resource-group-arn": _data("LaunchTemplateData.Placement.HostResourceGroupArn"),
    "iam-instance-profile": _data("LaunchTemplateData.IamInstanceProfile.Arn"),
    "image-id": _data("LaunchTemplateData.ImageId"), "instance-type": _data("LaunchTemplateData.InstanceType"),
    "is-default-version": lambda v: str(v["DefaultVersion"]).lower(),
    "kernel-id": _data("LaunchTemplateData.KernelId"), "ram-disk-id": _data("LaunchTemplateData.RamDiskId"),
    "license-configuration-arn": _data("LaunchTemplateData.LicenseSpecifications.LicenseConfigurationArn"),
    "network-card-index": _data("LaunchTemplateData.NetworkInterfaces.NetworkCardIndex"),
}


def id_not_found(template_id: str) -> errors.EC2Error:
    return errors.InvalidLaunchTemplateIdNotFound(
        f"The specified launch template, with template ID {template_id}, does not exist.")


def name_not_found(name: str) -> errors.EC2Error:
    return errors.InvalidLaunchTemplateNameNotFound(
        f"The specified launch template, with template name {name[:128]}, does not exist.")


def version_not_found(template_id: str, version: object) -> errors.EC2Error:
    return errors.InvalidLaunchTemplateIdVersionNotFound(
        f"Could not find launch template version {str(version)[:32]} for template {template_id}.")


def template_shape(row: LaunchTemplate) -> dict:
    return {"LaunchTemplateId": row.template_id, "LaunchTemplateName": row.name, "CreateTime": row.created_at,
            "CreatedBy": row.created_by, "DefaultVersionNumber": row.default_version,
            "LatestVersionNumber": row.latest_version}


def version_shape(template: LaunchTemplate, version: LaunchTemplateVersion) -> dict:
    return {"LaunchTemplateId": template.template_id, "LaunchTemplateName": template.name,
            "VersionNumber": version.version, "CreateTime": version.created_at, "CreatedBy": version.created_by,
            "DefaultVersion": version.version == template.default_version, "LaunchTemplateData": version.data,
            **({"VersionDescription": version.description} if version.description else {})}


async def templates(ctx: RequestContext, template_ids: list[str] | None = None) -> list[LaunchTemplate]:
    return await own_rows.rows(ctx, LaunchTemplate, LaunchTemplate.template_id, template_ids)


async def shapes(ctx: RequestContext, template_ids: list[str] | None = None) -> list[dict]:
    return await tag_reads.with_tags(ctx, [template_shape(r) for r in await templates(ctx, template_ids)],
                                     "LaunchTemplateId")


async def template(ctx: RequestContext, params: dict) -> LaunchTemplate:
    """The template a request names by LaunchTemplateId or LaunchTemplateName (one of them)."""
    template_id, name = params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
    if template_id and name:
        raise errors.InvalidParameterCombination("Specify either the launch template ID or the launch template "
                                                 "name, not both")
    if template_id:
        found = await templates(ctx, [ids.check("lt", template_id)])
        if not found:
            raise id_not_found(template_id)
        return found[0]
    if not name:
        raise errors.MissingParameter("The request must contain the parameter LaunchTemplateName or "
                                      "LaunchTemplateId")
    found = [t for t in await templates(ctx) if t.name == name]
    if not found:
        raise name_not_found(name)
    return found[0]


async def versions(ctx: RequestContext, template_ids: list[str],
                   numbers: list[int] | None = None) -> list[LaunchTemplateVersion]:
    """The versions of these templates (or only ``numbers`` of them), oldest first."""
    query = select(LaunchTemplateVersion).where(LaunchTemplateVersion.project_id == ctx.project_id,
                                                LaunchTemplateVersion.template_id.in_(template_ids))
    if numbers is not None:
        query = query.where(LaunchTemplateVersion.version.in_(numbers))
    async with ctx.services.sessions() as session:
        return list((await session.scalars(query.order_by(LaunchTemplateVersion.template_id,
                                                          LaunchTemplateVersion.version))).all())


def number_of(row: LaunchTemplate, wanted: object) -> int:
    """A version as a request names it: a number, ``$Latest`` or ``$Default`` (the default when none)."""
    if wanted in (None, "", "$Default"):
        return row.default_version
    if wanted == "$Latest":
        return row.latest_version
    return launch_templates.version_number(wanted)


async def version(ctx: RequestContext, row: LaunchTemplate, wanted: object) -> LaunchTemplateVersion:
    number = number_of(row, wanted)
    found = await versions(ctx, [row.template_id], [number])
    if not found:
        raise version_not_found(row.template_id, wanted)
    return found[0]


async def by_marker(ctx: RequestContext, marker: str) -> tuple[LaunchTemplate, LaunchTemplateVersion] | None:
    """The version a ClientToken made (CreateLaunchTemplateVersion's replay), with its template."""
    async with ctx.services.sessions() as session:
        found = (await session.scalars(select(LaunchTemplateVersion).where(
            LaunchTemplateVersion.project_id == ctx.project_id, LaunchTemplateVersion.marker == marker))).first()
        owner = await session.get(LaunchTemplate, found.template_id) if found is not None else None
    return (owner, found) if owner is not None and found is not None else None


@tag_reads.exists("lt")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await own_rows.existing(ctx, LaunchTemplate.template_id, resource_ids)
