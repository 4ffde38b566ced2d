"""Describe/ModifyInstanceAttribute, ModifyInstanceMetadataOptions, GetConsoleOutput.

What Nova keeps (flavor, security groups, console) is read from and changed
in Nova; what it does not keep for EC2 (user data, termination protection,
shutdown behaviour, metadata options) lives in our row, changed conditionally
on its generation.
"""

from __future__ import annotations

import base64
import binascii

from ec2proxy.cloud import BackendError, CloudView
from ec2proxy.context import RequestContext
from ec2proxy.db.models import utcnow
from ec2proxy.ec2 import errors, ids, launch_requests, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels.instance_shapes import InstanceRecord, metadata_options
from ec2proxy.readmodels.instances import find_flavor, lookup, resolve_groups
from ec2proxy.readmodels.networks import neutron_of
from ec2proxy.state import resizes, shutdown_behavior
from ec2proxy.state.instance_rows import update_row

# Attribute name (as in Attribute=...) -> the output member carrying it.
ATTRIBUTES = {
    "instanceType": "InstanceType", "kernel": "KernelId", "ramdisk": "RamdiskId", "userData": "UserData",
    "disableApiTermination": "DisableApiTermination", "disableApiStop": "DisableApiStop",
    "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior", "rootDeviceName": "RootDeviceName",
    "blockDeviceMapping": "BlockDeviceMappings", "productCodes": "ProductCodes", "sourceDestCheck": "SourceDestCheck",
    "groupSet": "Groups", "ebsOptimized": "EbsOptimized", "sriovNetSupport": "SriovNetSupport",
    "enaSupport": "EnaSupport", "enclaveOptions": "EnclaveOptions",
}
# Hardware and network knobs OpenStack has no per-server switch for.
CANNOT_MODIFY = ("ebsOptimized", "sriovNetSupport", "enaSupport", "kernel", "ramdisk",
                 "disableApiStop")
MODIFY_MEMBERS = {"SourceDestCheck": "sourceDestCheck", "DisableApiStop": "disableApiStop",
                  "BlockDeviceMappings": "blockDeviceMapping", "DisableApiTermination": "disableApiTermination",
                  "InstanceType": "instanceType", "Kernel": "kernel", "Ramdisk": "ramdisk", "UserData": "userData",
                  "InstanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior", "Groups": "groupSet",
                  "EbsOptimized": "ebsOptimized", "SriovNetSupport": "sriovNetSupport", "EnaSupport": "enaSupport"}


@action("DescribeInstanceAttribute")
async def describe_instance_attribute(ctx: RequestContext, params: dict) -> dict:
    attribute = params["Attribute"]
    member = ATTRIBUTES.get(attribute)
    if member is None:
        raise errors.InvalidParameterValue(f"Value ({attribute[:64]}) for parameter attribute is invalid. "
                                           "Unknown attribute.")
    instance, = await lookup(ctx, [params["InstanceId"]])
    _one_interface(instance, attribute)
    row = instance.row
    values = {
        "InstanceType": {"Value": instance.shape["InstanceType"]},
        # an instance with none answers an empty one (the retired suite checks it against AWS; an image omits it)
        "KernelId": {"Value": instance.shape["KernelId"]} if instance.shape.get("KernelId") else {},
        "RamdiskId": {"Value": instance.shape["RamdiskId"]} if instance.shape.get("RamdiskId") else {},
        "UserData": {"Value": row.user_data} if row is not None and row.user_data else {},
        "DisableApiTermination": {"Value": bool(row and row.disable_api_termination)},
        "DisableApiStop": {"Value": False},
        "InstanceInitiatedShutdownBehavior": {"Value": row.shutdown_behavior if row else "stop"},
        "RootDeviceName": {"Value": instance.shape["RootDeviceName"]},
        "BlockDeviceMappings": instance.shape["BlockDeviceMappings"], "ProductCodes": [],
        "SourceDestCheck": {"Value": instance.shape["SourceDestCheck"]}, "EbsOptimized": {"Value": False},
        "SriovNetSupport": {},
        "EnaSupport": {"Value": True}, "EnclaveOptions": {"Enabled": False},
        "Groups": instance.shape["SecurityGroups"],
    }
    return {"InstanceId": instance.shape["InstanceId"], member: values[member]}


def _modification(params: dict) -> tuple[str, object]:
    """The one (attribute, value) a ModifyInstanceAttribute asks for, in either of its two spellings."""
    given = [(MODIFY_MEMBERS[k], v) for k, v in params.items() if k in MODIFY_MEMBERS and v not in (None, [])]
    if params.get("Attribute"):
        if params["Attribute"] not in ATTRIBUTES:
            raise errors.InvalidParameterValue(f"Value ({params['Attribute'][:64]}) for parameter attribute is "
                                               "invalid. Unknown attribute.")
        given.append((params["Attribute"], params.get("Value")))
    if len(given) != 1:
        raise errors.InvalidParameterCombination("Exactly one attribute must be modified per request")
    name, value = given[0]
    if isinstance(value, dict) and set(value) <= {"Value"}:
        value = value.get("Value")
    if value is None and name != "blockDeviceMapping":
        raise errors.MissingParameter(f"The request must contain a value for the attribute {name}")
    return name, value


# What belongs to an interface: asked of the instance, it needs the instance to have only one (as on AWS)
PER_INTERFACE = ("groupSet", "sourceDestCheck")


def _one_interface(instance: InstanceRecord, attribute: str) -> None:
    if attribute in PER_INTERFACE and len(instance.shape.get("NetworkInterfaces") or []) > 1:
        raise errors.multiple_interfaces(instance.shape["InstanceId"])


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise errors.InvalidParameterValue(f"Value ({str(value)[:32]}) for parameter value is invalid. Expected a boolean.")


def _require_stopped(instance: InstanceRecord, attribute: str) -> None:
    if instance.shape["State"]["Name"] != "stopped":
        raise errors.IncorrectInstanceState(f"The instance '{instance.shape['InstanceId']}' is not in the 'stopped' "
                                            f"state; {attribute} can only be changed while it is stopped.")


@action("ModifyInstanceAttribute", checks_dry_run=True)
async def modify_instance_attribute(ctx: RequestContext, params: dict) -> dict:
    name, value = _modification(params)
    if name in CANNOT_MODIFY:
        raise errors.UnsupportedOperation(f"The attribute {name} cannot be changed on this cloud: OpenStack has no "
                                          "per-server setting for it.")
    if name in ("productCodes", "rootDeviceName", "enclaveOptions"):
        raise errors.InvalidParameterValue(f"The attribute {name} is read-only.")
    instance, = await lookup(ctx, [params["InstanceId"]])
    _one_interface(instance, name)
    view = await ctx.cloud()
    changes: dict[str, object]
    if name == "disableApiTermination":
        changes = {"disable_api_termination": _boolean(value)}
    elif name == "instanceInitiatedShutdownBehavior":
        changes = {"shutdown_behavior": shutdown_behavior.checked(value, name)}
    elif name == "userData":
        _require_stopped(instance, name)
        changes = {"user_data": _user_data_value(value)}
    elif name == "instanceType":
        _require_stopped(instance, name)
        flavor = await find_flavor(view, str(value))
        if ctx.dry_run:
            raise errors.DryRunOperation()
        changes = {"instance_type": flavor["name"]}
        if flavor["name"] != instance.shape["InstanceType"]:
            await view.nova.resize(instance.os_id, flavor["id"])
            await update_row(ctx, instance, **changes)  # shown at once, as EC2 does; the job confirms it
            await resizes.schedule(ctx, view, instance.shape["InstanceId"], instance.os_id, flavor,
                                   instance.shape["InstanceType"])
            return {}
    elif name == "groupSet":
        await _modify_groups(ctx, view, instance, value if isinstance(value, list) else [str(value)])
        return {}
    elif name == "sourceDestCheck":
        check = _boolean(value)
        if ctx.dry_run:
            raise errors.DryRunOperation()
        await _source_dest_check(ctx, view, instance, check)
        return {}
    else:  # blockDeviceMapping
        await _delete_on_termination(ctx, view, instance, params.get("BlockDeviceMappings") or [])
        return {}
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await update_row(ctx, instance, **changes)
    return {}


async def _source_dest_check(ctx: RequestContext, view: CloudView, instance: InstanceRecord, check: bool) -> None:
    """On every port of the instance: a port that may send from any address has the 0.0.0.0/0 address pair."""
    neutron = neutron_of(view)
    for port in await neutron.list("port", {"device_id": instance.os_id}):
        await neutron.update("port", port["id"], {"allowed_address_pairs": vpcs.address_pairs(port, check)})
    ctx.services.instance_changed(instance.os_id)


# What ResetInstanceAttribute may reset, as AWS documents it: the rest is InvalidParameterValue. The kernel and the
# ramdisk are always the image's here (they cannot be changed), and so is disableApiStop's false.
RESETTABLE = ("kernel", "ramdisk", "sourceDestCheck", "disableApiStop")


@action("ResetInstanceAttribute", checks_dry_run=True)
async def reset_instance_attribute(ctx: RequestContext, params: dict) -> dict:
    name = params["Attribute"]
    if name not in RESETTABLE:
        raise errors.InvalidParameterValue(f"The attribute {str(name)[:64]} cannot be reset; only "
                                           f"{', '.join(RESETTABLE)} can.")
    instance, = await lookup(ctx, [params["InstanceId"]])
    _one_interface(instance, name)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    if name == "sourceDestCheck":
        await _source_dest_check(ctx, await ctx.cloud(), instance, True)
    return {}


def _user_data_value(value: object) -> str:
    """Our row keeps user data base64-encoded, as RunInstances received it."""
    raw = value if isinstance(value, bytes) else str(value).encode()
    if not isinstance(value, bytes):
        try:  # the Attribute/Value spelling carries base64 text
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    launch_requests.check_user_data_size(raw)
    return base64.b64encode(raw).decode()


async def _delete_on_termination(ctx: RequestContext, view: CloudView, instance: InstanceRecord,
                                 mappings: list[dict]) -> None:
    """Whether attached volumes go with the instance: Nova's own flag, which decides what it deletes with the
    server (compute API 2.85), and our record of the mapping."""
    shown = {m["DeviceName"]: m for m in instance.shape["BlockDeviceMappings"]}
    wanted: dict[str, bool] = {}
    for mapping in mappings:
        device = str(mapping.get("DeviceName"))
        if device not in shown:
            raise errors.InvalidParameterValue(f"The device '{str(device)[:64]}' is not attached to "
                                               f"{instance.shape['InstanceId']}")
        flag = (mapping.get("Ebs") or {}).get("DeleteOnTermination")
        if flag is not None:
            wanted[device] = bool(flag)
    if view.nova.microversion() < (2, 85):
        raise errors.UnsupportedOperation("This cloud's Nova cannot change whether it deletes an attached volume "
                                          "with its server (compute API 2.85 needed).")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    for device, flag in wanted.items():
        volume_id = ids.os_id_of(shown[device]["Ebs"]["VolumeId"])
        if volume_id is None:
            raise errors.InternalError()
        await view.nova.set_delete_on_termination(instance.os_id, volume_id, flag)
    if wanted and instance.row is not None:
        recorded = [{**m, "DeleteOnTermination": wanted[m["DeviceName"]]} if m.get("DeviceName") in wanted else m
                    for m in instance.row.block_device_mappings or []]
        await update_row(ctx, instance, block_device_mappings=recorded)


async def _modify_groups(ctx: RequestContext, view: CloudView, instance: InstanceRecord, group_ids: list[str]) -> None:
    """Make the instance's groups exactly ``group_ids``: Nova add/remove for the difference."""
    if not group_ids:
        raise errors.MissingParameter("The request must name at least one security group")
    wanted = {g.shape["GroupId"]: g.os["id"] for g in await resolve_groups(view, [], group_ids)}
    current = {g["GroupId"]: g["GroupName"] for g in instance.shape["SecurityGroups"]}
    if ctx.dry_run:
        raise errors.DryRunOperation()
    for group_id in wanted.keys() - current.keys():  # Nova takes a Neutron group's id where it says name
        await view.nova.action(instance.os_id, "addSecurityGroup", {"name": wanted[group_id]})
    for group_id in current.keys() - wanted.keys():
        gone = ids.os_id_of(group_id) or current[group_id]
        await view.nova.action(instance.os_id, "removeSecurityGroup", {"name": gone})


@action("ModifyInstanceMetadataOptions", checks_dry_run=True)
async def modify_instance_metadata_options(ctx: RequestContext, params: dict) -> dict:
    choices = {"HttpTokens": ("optional", "required"), "HttpEndpoint": ("enabled", "disabled"),
               "HttpProtocolIpv6": ("enabled", "disabled"), "InstanceMetadataTags": ("enabled", "disabled")}
    for member, allowed in choices.items():
        if params.get(member) is not None and params[member] not in allowed:
            raise errors.InvalidParameterValue(f"Value ({str(params[member])[:32]}) for parameter {member} is "
                                               f"invalid. Allowed: {', '.join(allowed)}")
    hops = params.get("HttpPutResponseHopLimit")
    if hops is not None and not 1 <= hops <= 64:
        raise errors.InvalidParameterValue("HttpPutResponseHopLimit must be between 1 and 64")
    instance, = await lookup(ctx, [params["InstanceId"]])
    if params.get("InstanceMetadataTags") == "enabled":  # its tags must be ones the metadata can show
        tagging.check_metadata_keys(instance.shape["InstanceId"], [t["Key"] for t in instance.shape.get("Tags") or []])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    current = {k: v for k, v in instance.shape["MetadataOptions"].items() if k != "State"}
    options = metadata_options({**current, **{k: params[k] for k in (*choices, "HttpPutResponseHopLimit")
                                              if params.get(k) is not None}})
    await update_row(ctx, instance, metadata_options=options)
    return {"InstanceId": instance.shape["InstanceId"], "InstanceMetadataOptions": options}


@action("GetPasswordData")
async def get_password_data(ctx: RequestContext, params: dict) -> dict:
    """Nova's os-server-password: what a Windows guest posted, encrypted with its key pair; empty for a Linux
    guest, as AWS answers."""
    instance, = await lookup(ctx, [params["InstanceId"]])
    view = await ctx.cloud()
    password = ""
    if instance.shape["State"]["Name"] not in ("terminated", "shutting-down"):
        password = await view.nova.password(instance.os_id)
    return {"InstanceId": instance.shape["InstanceId"], "Timestamp": utcnow(), "PasswordData": password}


@action("GetConsoleOutput")
async def get_console_output(ctx: RequestContext, params: dict) -> dict:
    instance, = await lookup(ctx, [params["InstanceId"]])
    view = await ctx.cloud()
    output = ""
    if instance.shape["State"]["Name"] in ("running", "stopped", "stopping"):
        try:
            lines = 64 * 1024 // 80 if params.get("Latest") else None
            output = await view.nova.console_output(instance.os_id, lines)
        except BackendError as exc:
            if exc.status != 409:  # a server between states has no console yet: EC2 answers empty output
                raise
    encoded = base64.b64encode(output.encode()[-64 * 1024:]).decode()
    return {"InstanceId": instance.shape["InstanceId"], "Timestamp": utcnow(), "Output": encoded}
