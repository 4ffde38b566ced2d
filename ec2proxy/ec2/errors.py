"""EC2 errors: raised anywhere, turned into the EC2 error envelope in one place.

Each class carries the EC2 error code and the HTTP status AWS answers it with
(AWS "common errors" reference). Resource-specific codes such as
``InvalidInstanceID.NotFound`` use :class:`EC2Error` with an explicit code,
or the :func:`not_found` / :func:`malformed` helpers.
"""

from __future__ import annotations


class EC2Error(Exception):
    """An error the client is meant to see, with its EC2 code and HTTP status."""

    code = "InternalError"
    status = 400

    def __init__(self, message: str = "", code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# -- protocol -----------------------------------------------------------------


class MissingAction(EC2Error):
    code = "MissingAction"


class InvalidAction(EC2Error):
    code = "InvalidAction"


class UnsupportedOperation(EC2Error):
    code = "UnsupportedOperation"


class UnknownParameter(EC2Error):
    code = "UnknownParameter"


class MissingParameter(EC2Error):
    code = "MissingParameter"


class InvalidParameterValue(EC2Error):
    code = "InvalidParameterValue"


class InvalidParameterCombination(EC2Error):
    code = "InvalidParameterCombination"


class InvalidParameter(EC2Error):
    code = "InvalidParameter"


class InvalidRequest(EC2Error):
    code = "InvalidRequest"


class MalformedQueryString(EC2Error):
    code = "MalformedQueryString"
    status = 404


class InvalidQueryParameter(EC2Error):
    code = "InvalidQueryParameter"


class RequestEntityTooLarge(EC2Error):
    code = "RequestEntityTooLarge"
    status = 413


# -- authentication and authorization ------------------------------------------


class AuthFailure(EC2Error):
    code = "AuthFailure"
    status = 401


def not_authorized_for(kind: str, resource_id: str) -> AuthFailure:
    """What AWS answers a change to (or a private read of) a resource the caller sees but does not own, such as a
    public image of another account ("Not authorized for image:ami-...")."""
    return AuthFailure(f"Not authorized for {kind}:{resource_id}")


class SignatureDoesNotMatch(EC2Error):
    code = "SignatureDoesNotMatch"
    status = 403


class IncompleteSignature(EC2Error):
    code = "IncompleteSignature"


class MissingAuthenticationToken(EC2Error):
    code = "MissingAuthenticationToken"
    status = 403


class RequestExpired(EC2Error):
    code = "RequestExpired"


class InvalidClientTokenId(EC2Error):
    code = "InvalidClientTokenId"
    status = 403


class UnauthorizedOperation(EC2Error):
    code = "UnauthorizedOperation"
    status = 403

    def __init__(self, message: str = "You are not authorized to perform this operation."):
        super().__init__(message)


# -- flow control ----------------------------------------------------------------


class DryRunOperation(EC2Error):
    code = "DryRunOperation"
    status = 412

    def __init__(self, message: str = "Request would have succeeded, but DryRun flag is set."):
        super().__init__(message)


class RequestLimitExceeded(EC2Error):
    code = "RequestLimitExceeded"
    status = 503


class Unavailable(EC2Error):
    code = "Unavailable"
    status = 503


class InternalError(EC2Error):
    code = "InternalError"
    status = 500

    def __init__(self, message: str = "An internal error has occurred."):
        super().__init__(message)


# -- resources -------------------------------------------------------------------


class IncorrectInstanceState(EC2Error):
    """The instance is not in a state this action can act on (the message says which)."""

    code = "IncorrectInstanceState"


class IncorrectState(EC2Error):
    """A volume, snapshot or image is not in a state this action can act on."""

    code = "IncorrectState"


class IdempotentParameterMismatch(EC2Error):
    code = "IdempotentParameterMismatch"

    def __init__(self, message: str = "The client token you have provided is associated with a resource that is "
                                      "already deleted or with different parameters."):
        super().__init__(message)


class InvalidNextToken(EC2Error):
    code = "InvalidNextToken"

    def __init__(self, message: str = "The NextToken is not valid for this request."):
        super().__init__(message)


class KeyPairNotFound(EC2Error):
    code = "InvalidKeyPair.NotFound"

    def __init__(self, name: str):
        super().__init__(f"The key pair '{name[:255]}' does not exist")


# -- codes the handlers answer, each named once (the message is the caller's, in AWS's words) ----------


class AddressLimitExceeded(EC2Error):
    code = "AddressLimitExceeded"


class CannotDelete(EC2Error):
    code = "CannotDelete"


class DefaultVpcAlreadyExists(EC2Error):
    code = "DefaultVpcAlreadyExists"


class DependencyViolation(EC2Error):
    code = "DependencyViolation"


class GatewayNotAttached(EC2Error):
    code = "Gateway.NotAttached"


class IdempotentInstanceTerminated(EC2Error):
    code = "IdempotentInstanceTerminated"


class InstanceLimitExceeded(EC2Error):
    code = "InstanceLimitExceeded"


class InsufficientInstanceCapacity(EC2Error):
    code = "InsufficientInstanceCapacity"
    status = 500  # AWS answers it as a server error: the request may succeed later or elsewhere


class InsufficientFreeAddressesInSubnet(EC2Error):
    code = "InsufficientFreeAddressesInSubnet"


class InvalidAMIIDNotFound(EC2Error):
    code = "InvalidAMIID.NotFound"


class InvalidAMIIDUnavailable(EC2Error):
    code = "InvalidAMIID.Unavailable"


class InvalidAMINameDuplicate(EC2Error):
    code = "InvalidAMIName.Duplicate"


class InvalidAddressNotFound(EC2Error):
    code = "InvalidAddress.NotFound"





class InvalidGatewayIDNotFound(EC2Error):
    code = "InvalidGatewayID.NotFound"


class InvalidGroupDuplicate(EC2Error):
    code = "InvalidGroup.Duplicate"


class InvalidGroupNotFound(EC2Error):
    code = "InvalidGroup.NotFound"


class InvalidID(EC2Error):
    code = "InvalidID"


class InvalidIPAddressInUse(EC2Error):
    code = "InvalidIPAddress.InUse"


class InvalidInstanceType(EC2Error):
    code = "InvalidInstanceType"



class InvalidKeyFormat(EC2Error):
    code = "InvalidKey.Format"


class InvalidKeyPairDuplicate(EC2Error):
    code = "InvalidKeyPair.Duplicate"



class InvalidLaunchTemplateIdNotFound(EC2Error):
    code = "InvalidLaunchTemplateId.NotFound"


class InvalidLaunchTemplateIdVersionNotFound(EC2Error):
    code = "InvalidLaunchTemplateId.VersionNotFound"


class InvalidLaunchTemplateNameAlreadyExists(EC2Error):
    code = "InvalidLaunchTemplateName.AlreadyExistsException"


class InvalidLaunchTemplateNameMalformed(EC2Error):
    code = "InvalidLaunchTemplateName.MalformedException"


class InvalidLaunchTemplateNameNotFound(EC2Error):
    code = "InvalidLaunchTemplateName.NotFoundException"


class InvalidNetworkInterfaceInUse(EC2Error):
    code = "InvalidNetworkInterface.InUse"


class InvalidPlacementGroupDuplicate(EC2Error):
    code = "InvalidPlacementGroup.Duplicate"


class InvalidPlacementGroupInUse(EC2Error):
    code = "InvalidPlacementGroup.InUse"


class InvalidPlacementGroupUnknown(EC2Error):
    code = "InvalidPlacementGroup.Unknown"


class InvalidPermissionDuplicate(EC2Error):
    code = "InvalidPermission.Duplicate"


class InvalidPermissionNotFound(EC2Error):
    code = "InvalidPermission.NotFound"


class InvalidRouteNotFound(EC2Error):
    code = "InvalidRoute.NotFound"




class InvalidSnapshotInUse(EC2Error):
    code = "InvalidSnapshot.InUse"


class InvalidSnapshotNotFound(EC2Error):
    code = "InvalidSnapshot.NotFound"


class InvalidSubnetConflict(EC2Error):
    code = "InvalidSubnet.Conflict"



class InvalidSubnetRange(EC2Error):
    code = "InvalidSubnet.Range"


class InvalidUserIDMalformed(EC2Error):
    code = "InvalidUserID.Malformed"


class InvalidVolumeNotFound(EC2Error):
    code = "InvalidVolume.NotFound"


class InvalidVolumeZoneMismatch(EC2Error):
    code = "InvalidVolume.ZoneMismatch"



class InvalidVpcRange(EC2Error):
    code = "InvalidVpc.Range"


class OperationNotPermitted(EC2Error):
    code = "OperationNotPermitted"


class PrivateIpAddressLimitExceeded(EC2Error):
    code = "PrivateIpAddressLimitExceeded"


class RequestTimeout(EC2Error):
    code = "RequestTimeout"


class ResourceAlreadyAssociated(EC2Error):
    code = "Resource.AlreadyAssociated"


class ResourceLimitExceeded(EC2Error):
    code = "ResourceLimitExceeded"


class RouteAlreadyExists(EC2Error):
    code = "RouteAlreadyExists"


class SnapshotLimitExceeded(EC2Error):
    code = "SnapshotLimitExceeded"


class TagLimitExceeded(EC2Error):
    code = "TagLimitExceeded"


class VolumeInUse(EC2Error):
    code = "VolumeInUse"


class VolumeLimitExceeded(EC2Error):
    code = "VolumeLimitExceeded"


# How AWS's NotFound messages name each kind ("The instance ID 'i-...' does not exist")
NOUNS = {"InstanceID": "instance", "VolumeID": "volume", "SnapshotID": "snapshot", "AMIID": "image",
         "AllocationID": "allocation", "AssociationID": "association", "VpcID": "vpc", "SubnetID": "subnet",
         "NetworkInterfaceID": "networkInterface", "InternetGatewayID": "internetGateway",
         "RouteTableID": "routeTable", "AttachmentID": "attachment", "DhcpOptionID": "dhcpOption",
         "GroupId": "security group", "ReservationID": "reservation", "VpnGatewayID": "vpnGateway",
         "CustomerGatewayID": "customerGateway", "VpnConnectionID": "vpnConnection",
         "SecurityGroupRuleId": "security group rule", "NetworkAclID": "networkAcl"}


def not_found(kind: str, ident: str) -> EC2Error:
    """``Invalid<Kind>.NotFound`` as EC2 names it, e.g. ``InvalidInstanceID.NotFound``, in AWS's words."""
    return EC2Error(f"The {NOUNS.get(kind, kind)} ID '{ident}' does not exist", code=f"Invalid{kind}.NotFound")


def multiple_interfaces(instance_id: str) -> EC2Error:
    """What AWS answers when an instance-wide setting that belongs to an interface (its groups, its source/dest
    check, its address) is asked of an instance with several."""
    return EC2Error(f"There are multiple interfaces attached to instance '{instance_id}'. Please specify an "
                    "interface ID for the operation instead.", code="InvalidInstanceID")


# Where AWS spells a kind's Malformed code otherwise than its NotFound one (the EC2 API reference's error codes:
# InvalidRouteTableId.Malformed beside InvalidRouteTableID.NotFound)
MALFORMED_SPELLING = {"InternetGatewayID": "InternetGatewayId", "RouteTableID": "RouteTableId",
                      "NetworkInterfaceID": "NetworkInterfaceId", "AttachmentID": "NetworkInterfaceAttachmentId",
                      "DhcpOptionID": "DhcpOptionsId", "CustomerGatewayID": "CustomerGatewayId",
                      "NetworkAclID": "NetworkAclId"}


def malformed(kind: str, ident: str) -> EC2Error:
    return EC2Error(f"Invalid id: \"{ident}\"", code=f"Invalid{MALFORMED_SPELLING.get(kind, kind)}.Malformed")
