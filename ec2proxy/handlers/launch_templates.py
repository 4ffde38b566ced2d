"""Launch templates: Create/Describe/Modify/DeleteLaunchTemplate, Create/Describe/DeleteLaunchTemplateVersions,
GetLaunchTemplateData. Kept whole in our database (Nova has no counterpart); RunInstances with LaunchTemplate
takes a version's data as its parameters (``ec2proxy.ec2.launch_templates``), so a template that names what this
cloud cannot do is refused at launch, as the same direct call would be."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.db.models import LaunchTemplate, utcnow
from ec2proxy.ec2 import errors, filters, ids, launch_templates, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import launch_templates as templates
from ec2proxy.readmodels.instances import lookup
from ec2proxy.state import launch_templates as changes
from ec2proxy.state import ledger, write

DESCRIPTION_LIMIT = 255


def _created_by(ctx: RequestContext) -> str:
    return f"arn:aws:iam::{ctx.project_id}:user/{ctx.user_id}"


def _description(params: dict) -> str | None:
    text = params.get("VersionDescription")
    if text is not None and len(text) > DESCRIPTION_LIMIT:
        raise errors.InvalidParameterValue(f"VersionDescription is at most {DESCRIPTION_LIMIT} characters")
    return text or None


def _data(params: dict) -> dict:
    data = params.get("LaunchTemplateData")
    if not isinstance(data, dict):
        raise errors.MissingParameter("The request must contain the parameter LaunchTemplateData")
    if data.get("ImageId") and not str(data["ImageId"]).startswith("resolve:ssm:"):
        ids.check("ami", data["ImageId"])
    for spec in data.get("TagSpecifications") or []:
        for tag in spec.get("Tags") or []:
            tagging.check_tag(tag.get("Key"), tag.get("Value"))
    return data


@action("CreateLaunchTemplate", checks_dry_run=True)
async def create_launch_template(ctx: RequestContext, params: dict) -> dict:
    if params.get("Operator"):
        raise errors.UnsupportedOperation("Managed launch templates (Operator) are not supported by this cloud.")
    name = launch_templates.check_name(params.get("LaunchTemplateName"))
    data, description = _data(params), _description(params)
    tags = tagging.from_specs(params, ("launch-template",)).get("launch-template", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    create = await ledger.Create.begin(ctx, params, ids.new("lt"))
    if create.owner:
        row = LaunchTemplate(template_id=create.marker, project_id=ctx.project_id, name=name, default_version=1,
                             latest_version=1, created_by=_created_by(ctx), created_at=utcnow())
        first = changes.version_row(ctx.project_id, row.template_id, 1, data, description, row.created_by)
        await create.record(changes.create, row, first, tags)
    shown = await templates.shapes(ctx, [create.marker])
    if not shown:
        raise errors.IdempotentParameterMismatch("The launch template created with this client token no longer "
                                                 "exists.")
    return {"LaunchTemplate": shown[0]}


@action("CreateLaunchTemplateVersion", checks_dry_run=True)
async def create_launch_template_version(ctx: RequestContext, params: dict) -> dict:
    """SourceVersion: the new version is that one's data with the members the request gives in place of its
    own (each top-level member whole, as AWS merges them)."""
    template = await templates.template(ctx, params)
    data, description = _data(params), _description(params)
    if params.get("SourceVersion"):
        source = await templates.version(ctx, template, params["SourceVersion"])
        data = {**source.data, **data}
    if ctx.dry_run:
        raise errors.DryRunOperation()
    create = await ledger.Create.begin(ctx, params, ids.new("ltv"))
    if create.owner:
        row = changes.version_row(ctx.project_id, template.template_id, 0, data, description, _created_by(ctx),
                                  marker=create.marker)
        template = await create.record(changes.add_version, template.template_id, row)
        return {"LaunchTemplateVersion": templates.version_shape(template, row)}
    found = await templates.by_marker(ctx, create.marker)
    if found is None:
        raise errors.IdempotentParameterMismatch("The launch template version created with this client token no "
                                                 "longer exists.")
    return {"LaunchTemplateVersion": templates.version_shape(*found)}


@action("DescribeLaunchTemplates")
async def describe_launch_templates(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=1, high=200, ids_member="LaunchTemplateIds")
    wanted = [ids.check("lt", i) for i in params.get("LaunchTemplateIds") or []]
    names = params.get("LaunchTemplateNames") or []
    shapes = filters.by_ids(await templates.shapes(ctx, wanted or None), "LaunchTemplateId", wanted,
                            templates.id_not_found)
    shapes = filters.by_ids(shapes, "LaunchTemplateName", names, templates.name_not_found)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), templates.FILTERS, ctx.action))
    return paging.answer(ctx, "LaunchTemplates", shapes, params)


def _in_range(number: int, params: dict) -> bool:
    low, high = params.get("MinVersion"), params.get("MaxVersion")
    return (not low or number >= launch_templates.version_number(low)) and \
        (not high or number <= launch_templates.version_number(high))


@action("DescribeLaunchTemplateVersions")
async def describe_launch_template_versions(ctx: RequestContext, params: dict) -> dict:
    """One template's versions (those named: numbers, ``$Latest``, ``$Default``; a range), or without a
    template the ``$Latest`` or ``$Default`` version of each."""
    paging.check_max_results(params, low=1, high=200)
    asked = params.get("Versions") or []
    if params.get("LaunchTemplateId") or params.get("LaunchTemplateName"):
        chosen = [await templates.template(ctx, params)]
    else:
        if any(v not in ("$Latest", "$Default") for v in asked):
            raise errors.InvalidParameterValue("Without a launch template, only $Latest and $Default versions "
                                               "can be asked for")
        chosen = await templates.templates(ctx)
    by_id = {t.template_id: t for t in chosen}
    found = await templates.versions(ctx, list(by_id))
    if asked:
        wanted = {(t.template_id, templates.number_of(t, v)) for t in chosen for v in asked}
        held = {(v.template_id, v.version) for v in found}
        missing = next((pair for pair in sorted(wanted) if pair not in held), None)
        if missing is not None:
            raise templates.version_not_found(*missing)
        found = [v for v in found if (v.template_id, v.version) in wanted]
    shapes = [templates.version_shape(by_id[v.template_id], v) for v in found if _in_range(v.version, params)]
    shapes.sort(key=lambda s: (s["LaunchTemplateId"], -s["VersionNumber"]))  # newest first, as AWS lists them
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), templates.VERSION_FILTERS,
                                                           ctx.action))
    return paging.answer(ctx, "LaunchTemplateVersions", shapes, params)


@action("ModifyLaunchTemplate", checks_dry_run=True)
async def modify_launch_template(ctx: RequestContext, params: dict) -> dict:
    """DefaultVersion (SetDefaultVersion in the CLI); setting it again is the same change, so a ClientToken
    needs no ledger."""
    template = await templates.template(ctx, params)
    if params.get("DefaultVersion") is not None:
        number = launch_templates.version_number(params["DefaultVersion"])
        if ctx.dry_run:
            raise errors.DryRunOperation()
        await write(ctx, changes.set_default, template, number)
    elif ctx.dry_run:
        raise errors.DryRunOperation()
    return {"LaunchTemplate": (await templates.shapes(ctx, [template.template_id]))[0]}


@action("DeleteLaunchTemplate", checks_dry_run=True)
async def delete_launch_template(ctx: RequestContext, params: dict) -> dict:
    template = await templates.template(ctx, params)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, changes.remove, template)
    return {"LaunchTemplate": templates.template_shape(template)}


@action("DeleteLaunchTemplateVersions", checks_dry_run=True)
async def delete_launch_template_versions(ctx: RequestContext, params: dict) -> dict:
    """Each version its own outcome, as AWS answers: the default one is never deleted (delete the template)."""
    template = await templates.template(ctx, params)
    asked = [launch_templates.version_number(v) for v in params.get("Versions") or []]
    if not asked:
        raise errors.MissingParameter("The request must contain the parameter LaunchTemplateVersion")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    gone = await write(ctx, changes.remove_versions, template, asked)
    named = {"LaunchTemplateId": template.template_id, "LaunchTemplateName": template.name}
    failed = []
    for number in asked:
        if number in gone:
            continue
        code, message = ("unexpectedError", "Cannot delete the default version of a launch template; delete the "
                         "template, or make another version the default first") if number == template.default_version \
            else ("launchTemplateVersionDoesNotExist", f"The version {number} does not exist")
        failed.append({**named, "VersionNumber": number, "ResponseError": {"Code": code, "Message": message}})
    return {"SuccessfullyDeletedLaunchTemplateVersions": [{**named, "VersionNumber": n} for n in sorted(gone)],
            "UnsuccessfullyDeletedLaunchTemplateVersions": failed}


@action("GetLaunchTemplateData", checks_dry_run=True)
async def get_launch_template_data(ctx: RequestContext, params: dict) -> dict:
    """The parameters that would launch the instance again: what it shows of its launch."""
    (instance,) = await lookup(ctx, [ids.check("i", params["InstanceId"])])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    placement = {k: v for k, v in (instance.shape.get("Placement") or {}).items()
                 if k in ("AvailabilityZone", "GroupName", "Tenancy") and v}
    row = instance.row
    data: dict = {
        "ImageId": instance.shape["ImageId"], "InstanceType": instance.shape["InstanceType"], "Placement": placement,
        "Monitoring": {"Enabled": False}, "DisableApiTermination": bool(row and row.disable_api_termination),
        "InstanceInitiatedShutdownBehavior": row.shutdown_behavior if row else "stop",
        "MetadataOptions": instance.shape.get("MetadataOptions") or {},
        "NetworkInterfaces": [{"DeviceIndex": (n.get("Attachment") or {}).get("DeviceIndex", 0),
                               "SubnetId": n.get("SubnetId"), "Groups": [g["GroupId"] for g in n.get("Groups") or []],
                               "DeleteOnTermination": (n.get("Attachment") or {}).get("DeleteOnTermination", True)}
                              for n in instance.shape.get("NetworkInterfaces") or []],
    }
    if instance.shape.get("KeyName"):
        data["KeyName"] = instance.shape["KeyName"]
    if row is not None and row.user_data:
        data["UserData"] = row.user_data
    tags = [t for t in instance.shape.get("Tags") or [] if not t["Key"].startswith("aws:")]
    if tags:
        data["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    if not data["NetworkInterfaces"]:
        data.pop("NetworkInterfaces")
        data["SecurityGroupIds"] = [g["GroupId"] for g in instance.shape.get("SecurityGroups") or []]
    return {"LaunchTemplateData": data}
