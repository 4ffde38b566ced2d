"""What a RunInstances request asks for, checked before anything is asked of the cloud: members this cloud has
no counterpart of (refused loudly, their defaults accepted), the user data, the interfaces' device indexes."""

from __future__ import annotations

import base64
import binascii

from ec2proxy.ec2 import errors

USER_DATA_LIMIT = 16 * 1024  # EC2: user data is limited to 16 KB (before base64)
MAX_COUNT = 1000
# Inputs that need the volume and network work of later issues: refused loudly until then.
NOT_YET = ("ElasticGpuSpecification", "CpuOptions", "CapacityReservationSpecification", "HibernationOptions",
           "LicenseSpecifications", "EnclaveOptions", "IamInstanceProfile", "InstanceMarketOptions",
           "ElasticInferenceAccelerators", "SecondaryInterfaces", "Operator", "Ipv6AddressCount", "Ipv6Addresses")
PLACEMENT_NOT_YET = ("HostId", "Affinity", "PartitionNumber", "SpreadDomain",
                     "HostResourceGroupArn", "AvailabilityZoneId")


# The value of a refused member that asks for nothing, beside false and empty (what Terraform sends on every
# launch: HibernationOptions.Configured=false, CapacityReservationSpecification.CapacityReservationPreference=open)
ASKS_NOTHING = {"CapacityReservationSpecification.CapacityReservationPreference": "open"}


def _asks(value: object, path: str) -> bool:
    """Whether a member's value asks for something: false, empty and the documented default do not."""
    if isinstance(value, dict):
        return any(_asks(item, f"{path}.{key}") for key, item in value.items())
    if isinstance(value, list):
        return any(_asks(item, path) for item in value)
    return value not in (None, False, "", 0) and ASKS_NOTHING.get(path) != value


def _refused_member(params: dict) -> str | None:
    """What a RunInstances asks for that this cloud has no counterpart of; its defaults (asking for nothing,
    what the instance then shows) are accepted."""
    placement, names = params.get("Placement") or {}, params.get("PrivateDnsNameOptions") or {}
    asked = {
        "DisableApiStop": params.get("DisableApiStop") is True,
        "EbsOptimized": params.get("EbsOptimized") is True,
        "Monitoring (detailed monitoring)": (params.get("Monitoring") or {}).get("Enabled") is True,
        "EnablePrimaryIpv6": params.get("EnablePrimaryIpv6") is True,
        "NetworkPerformanceOptions": (params.get("NetworkPerformanceOptions") or {}).get(
            "BandwidthWeighting") not in (None, "default"),
        "PrivateDnsNameOptions": names.get("HostnameType") not in (None, "ip-name")
        or bool(names.get("EnableResourceNameDnsARecord") or names.get("EnableResourceNameDnsAAAARecord")),
        "Placement.Tenancy": placement.get("Tenancy") not in (None, "", "default"),
        **{f"Placement.{member}": placement.get(member) not in (None, "") for member in PLACEMENT_NOT_YET},
    }
    return next((member for member, refused in asked.items() if refused), None)


def refused(params: dict) -> str | None:
    """The first member the request asks for that this cloud cannot do, if any."""
    return next((name for name in NOT_YET if _asks(params.get(name), name)), None) or _refused_member(params)


def check_device_indexes(nics: list[dict]) -> None:
    """Each index once, 0 among them (AWS). The interfaces Nova makes take the lowest indexes the existing ones
    leave free (their order is the order Nova makes them in), so a new interface elsewhere is refused."""
    indexes = [n.get("DeviceIndex", 0) for n in nics]
    if len(set(indexes)) != len(indexes) or 0 not in indexes or min(indexes) < 0:
        raise errors.InvalidParameterValue("Each network interface needs its own device index, and one of them 0")
    given = {n.get("DeviceIndex", 0) for n in nics if n.get("NetworkInterfaceId")}
    made = sorted(n.get("DeviceIndex", 0) for n in nics if not n.get("NetworkInterfaceId"))
    if made != [i for i in range(len(nics)) if i not in given][:len(made)]:
        raise errors.UnsupportedOperation("A network interface made at launch takes the lowest device index the "
                                          "existing ones leave free in this cloud.")


def user_data(params: dict) -> str | None:
    value = params.get("UserData")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    check_user_data_size(raw)
    return value


def check_user_data_size(raw: bytes) -> None:
    if len(raw) > USER_DATA_LIMIT:
        raise errors.InvalidParameterValue(f"User data is limited to {USER_DATA_LIMIT} bytes")
