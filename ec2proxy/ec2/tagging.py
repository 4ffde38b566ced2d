"""Tags as EC2 speaks of them: the resource type of each id prefix, the checks EC2 makes of a tag and of
TagSpecifications, and the tag filters. Our database keeps them for every resource type (read in
``ec2proxy.readmodels.tag_reads``, written in ``ec2proxy.state.tag_writes``)."""

from __future__ import annotations

import re
from typing import Callable, Iterable, TypeVar

from ec2proxy.ec2 import errors, filters

MAX_PER_RESOURCE = 50
Item = TypeVar("Item", bound=dict)

# id prefix -> the EC2 resource type (as DescribeTags and TagSpecifications name it)
RESOURCE_TYPES = {
    "i": "instance", "ami": "image", "aki": "image", "ari": "image", "vol": "volume", "snap": "snapshot",
    "sg": "security-group", "key": "key-pair", "eipalloc": "elastic-ip", "vpc": "vpc", "subnet": "subnet",
    "eni": "network-interface", "sgr": "security-group-rule", "igw": "internet-gateway", "rtb": "route-table",
    "dopt": "dhcp-options", "cgw": "customer-gateway", "acl": "network-acl", "pg": "placement-group",
    "lt": "launch-template",
}


def prefix_of(resource_id: str) -> str:
    return resource_id.partition("-")[0]


# What an instance's tag key may be once its tags show in the metadata service (InstanceMetadataTags = enabled):
# letters, digits and + - = . , _ : @, not "." nor ".." nor "_index" (EC2 User Guide, instance tags in metadata)
METADATA_KEY = re.compile(r"[A-Za-z0-9+\-=.,_:@]+")


def check_metadata_keys(instance_id: str, keys: Iterable[str]) -> None:
    """The keys of an instance whose tags are in its metadata, checked as AWS checks them."""
    for key in keys:
        if not METADATA_KEY.fullmatch(key) or key in (".", "..", "_index"):
            raise errors.InvalidParameterValue(
                f"The tag key '{key[:128]}' of {instance_id} is not allowed while its tags are in the instance "
                "metadata: use letters, digits and + - = . , _ : @ only (not '.', '..' or '_index')")


def check_tag(key: object, value: object, *, value_required: bool = True) -> tuple[str, str]:
    if not isinstance(key, str) or not key or len(key) > 128:
        raise errors.InvalidParameterValue("Tag keys must be 1 to 128 characters long")
    if key.lower().startswith("aws:"):
        raise errors.InvalidParameterValue(f"Tag keys starting with 'aws:' are reserved for internal use: {key}")
    value = "" if value is None else value
    if not isinstance(value, str) or len(value) > 256:
        raise errors.InvalidParameterValue(f"Tag value for key '{key}' must be at most 256 characters long")
    return key, value


def from_specs(params: dict, allowed: Iterable[str]) -> dict[str, list[dict]]:
    """TagSpecifications by resource type; a type the action cannot tag is refused, not ignored."""
    allowed = tuple(allowed)
    out: dict[str, list[dict]] = {}
    for spec in params.get("TagSpecifications") or []:
        kind = spec.get("ResourceType")
        if kind not in allowed:
            raise errors.InvalidParameterValue(f"'{str(kind)[:32]}' is not a valid taggable resource type for this "
                                               "operation.")
        tags = out.setdefault(kind, [])
        for tag in spec.get("Tags") or []:
            key, value = check_tag(tag.get("Key"), tag.get("Value"))
            tags.append({"Key": key, "Value": value})
    for tags in out.values():
        if len({t["Key"] for t in tags}) > MAX_PER_RESOURCE:
            raise errors.TagLimitExceeded(f"A resource can have at most {MAX_PER_RESOURCE} tags")
    return out


def rows(resource_id: str, tags: list[dict], project_id: str) -> list[dict]:
    kind = RESOURCE_TYPES.get(prefix_of(resource_id), "")
    latest = {t["Key"]: t["Value"] for t in tags}
    return [dict(resource_id=resource_id, key=key, value=value, project_id=project_id, resource_type=kind)
            for key, value in latest.items()]


def attach(items: list[Item], id_member: str, tags: dict[str, list[dict]], member: str = "Tags") -> list[Item]:
    """Put each item's tags in place (as ``member``: ``Tags``, or ``TagSet`` for a NetworkInterface)."""
    for item in items:
        item[member] = tags.get(item[id_member], [])
    return items


def tag_filters(member: str = "Tags") -> dict[str, Callable]:
    """The tag filters every Describe* of a taggable resource takes, reading the tags under ``member``."""
    def tag_values(item: dict, key: str) -> list[str]:  # what tag:<key> compares: the values of tags named key
        return [tag["Value"] for tag in item.get(member) or () if tag["Key"] == key]

    return {"tag-key": filters.path(f"{member}.Key"), "tag-value": filters.path(f"{member}.Value"),
            "tag:": tag_values}


FILTERS = tag_filters()


