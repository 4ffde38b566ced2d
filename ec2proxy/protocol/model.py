"""The botocore EC2 service model, loaded once per process."""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.model

API_VERSION = "2016-11-15"


@functools.cache
def service_model() -> botocore.model.ServiceModel:
    loader = botocore.loaders.create_loader()
    data = loader.load_service_model("ec2", "service-2", API_VERSION)
    return botocore.model.ServiceModel(data, service_name="ec2")


@functools.cache
def operation_names() -> frozenset[str]:
    return frozenset(service_model().operation_names)


def operation(name: str) -> botocore.model.OperationModel | None:
    """The operation model for an action name, or None when EC2 has no such action."""
    if name not in operation_names():
        return None
    return service_model().operation_model(name)
