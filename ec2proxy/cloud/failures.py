"""Backend failures, and the EC2 error each one becomes.

A handler that knows what a 404 means (``InvalidInstanceID.NotFound``)
catches :class:`BackendNotFound` itself; anything it does not catch reaches
dispatch, which answers :meth:`BackendError.ec2`.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from ec2proxy.ec2 import errors


class BackendError(Exception):
    """An OpenStack service answered with an error, or did not answer."""

    def __init__(self, service: str, status: int, message: str, method: str = "", path: str = ""):
        super().__init__(f"{service} {method} {path}: {status} {message}")
        self.service, self.status, self.message = service, status, message
        self.method, self.path = method, path

    def ec2(self) -> errors.EC2Error:
        status = self.status
        if status == 400:
            return errors.InvalidParameterValue(f"The cloud refused the request: {self.message[:200]}")
        if status in (401, 403):
            return errors.UnauthorizedOperation("You are not authorized to perform this operation.")
        if status == 404:
            return errors.InvalidParameterValue(f"A resource the request names does not exist: {self.message[:200]}")
        if status == 409:
            return errors.IncorrectState(f"The resource is not in a state for this request: {self.message[:200]}")
        if status in (413, 429):
            return errors.RequestLimitExceeded("Request limit exceeded.")
        if status in (502, 503, 504, 0):
            return errors.Unavailable("The service is unavailable. Please try again shortly.")
        return errors.InternalError()


class BackendNotFound(BackendError):
    pass


class BackendConflict(BackendError):
    pass


class UnsafePath(BackendError):
    """A value that would not stay one path segment of a backend URL (empty, ``.``, ``..``): never sent."""

    def __init__(self, value: str):
        super().__init__("proxy", 400, "unsafe path segment")
        self.value = value

    def ec2(self) -> errors.EC2Error:
        return errors.InvalidParameterValue(f"Value ({self.value[:64]}) is not a valid identifier.")


class BackendUnavailable(BackendError):
    """No answer: connection refused or dropped, timeout (status 0)."""


def from_status(service: str, status: int, message: str, method: str, path: str) -> BackendError:
    kind = {404: BackendNotFound, 409: BackendConflict}.get(status, BackendError)
    return kind(service, status, message, method, path)


def address_failure(exc: BackendError, subnet_id: str) -> errors.EC2Error:
    """Neutron's 409 for a port's addresses: the subnet is full (IpAddressGenerationFailure), or an address asked
    for is taken."""
    if exc.status != 409:
        return exc.ec2()
    if "no more ip addresses" in exc.message.lower():
        return errors.InsufficientFreeAddressesInSubnet(
            f"There are not enough free addresses in subnet '{subnet_id}' to satisfy the "
            "requested number of instances.")
    return errors.InvalidIPAddressInUse(f"An address asked for is in use: {exc.message[:200]}")


async def removed(*steps: Callable[[], Awaitable]) -> None:
    """Run each removal in turn; one whose object is already gone counts as done."""
    for step in steps:
        try:
            await step()
        except BackendNotFound:
            pass
