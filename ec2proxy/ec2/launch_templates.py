"""What a launch template means to RunInstances, with no I/O: its name rules, the versions a request names, and
the launch parameters a version gives (the call's own parameters win, tags merged)."""

from __future__ import annotations

import re

from ec2proxy.ec2 import errors

NAME = re.compile(r"[a-zA-Z0-9().\-/_]{3,128}")
# LaunchTemplateData members spelled otherwise in RunInstances
RUN_SPELLING = {"RamDiskId": "RamdiskId", "ElasticGpuSpecifications": "ElasticGpuSpecification"}
INSTANCE_TAGS = ("aws:ec2launchtemplate:id", "aws:ec2launchtemplate:version")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise errors.InvalidLaunchTemplateNameMalformed(
            "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and "
            "the following characters: - ( ) . / _.'")
    return name


def version_number(text: object) -> int:
    """A version as a request names it by number."""
    try:
        number = int(str(text))
    except ValueError:
        raise errors.InvalidParameterValue(f"Invalid launch template version: {str(text)[:32]}") from None
    if number < 1:
        raise errors.InvalidParameterValue(f"Invalid launch template version: {number}")
    return number


def _merged_tags(template: list[dict], asked: list[dict]) -> list[dict]:
    """TagSpecifications of both, per resource type; a key the call gives takes the call's value."""
    by_type: dict[str, dict[str, str]] = {}
    for spec in [*template, *asked]:
        kind = spec.get("ResourceType") or ""
        by_type.setdefault(kind, {}).update({t["Key"]: t.get("Value", "") for t in spec.get("Tags") or []})
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            for kind, tags in by_type.items()]


def run_params(data: dict, params: dict) -> dict:
    """RunInstances' parameters from a template version's data and the call's: the call's win, member by
    member; the tags of both apply."""
    if data.get("InstanceRequirements"):
        raise errors.UnsupportedOperation("Launch templates with InstanceRequirements (attribute-based instance "
                                          "type selection) are not supported by this cloud: name an InstanceType.")
    merged = {RUN_SPELLING.get(member, member): value for member, value in data.items()
              if value not in (None, [], {}) and member != "InstanceRequirements"}
    asked = {member: value for member, value in params.items() if member != "LaunchTemplate"}
    tags = _merged_tags(merged.pop("TagSpecifications", None) or [], asked.pop("TagSpecifications", None) or [])
    merged.update({member: value for member, value in asked.items() if value is not None})
    if tags:
        merged["TagSpecifications"] = tags
    return merged
