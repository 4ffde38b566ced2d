"""The botocore service models the endpoint speaks, loaded once per process.

EC2 is the API; STS answers on the same endpoint because the tools that drive
EC2 (Ansible, Terraform, scripts) ask it who they are before anything else.
A SigV4 signature's scope names the service a request is for.
"""

from __future__ import annotations

import functools
import re

import botocore.loaders
import botocore.model

API_VERSION = "2016-11-15"
VERSIONS = {"ec2": API_VERSION, "sts": "2011-06-15"}
SERVICES = frozenset(VERSIONS)


@functools.cache
def service_model(service: str = "ec2") -> botocore.model.ServiceModel:
    loader = botocore.loaders.create_loader()
    data = loader.load_service_model(service, "service-2", VERSIONS[service])
    return botocore.model.ServiceModel(data, service_name=service)


@functools.cache
def operation_names(service: str = "ec2") -> frozenset[str]:
    return frozenset(service_model(service).operation_names)


def operation(name: str, service: str = "ec2") -> botocore.model.OperationModel | None:
    """The operation model for an action name, or None when the service has no such action."""
    if name not in operation_names(service):
        return None
    return service_model(service).operation_model(name)


# A filter's entry in the model's documentation of an action's Filters: "<li> <p> <code>name</code> - ..."
_FILTER_ENTRY = re.compile(r"<li>\s*<p>\s*<code>([a-z][a-zA-Z0-9.:\-]*[a-zA-Z0-9])</code>\s*-")


@functools.cache
def documented_filters(action: str) -> frozenset[str]:
    """The filter names the AWS reference lists for ``action`` (botocore carries its documentation)."""
    model = operation(action)
    shape = model.input_shape if model is not None else None
    member = shape.members.get("Filters") if shape is not None else None
    if member is None:
        return frozenset()
    return frozenset(name for name in _FILTER_ENTRY.findall(member.documentation or "") if name != "tag")
