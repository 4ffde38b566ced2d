"""DescribeInstanceTypes: Nova flavors described as EC2 instance types."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, paging, servers
from ec2proxy.handlers import action


def instance_type(flavor: dict) -> dict:
    disk = (flavor.get("disk") or 0) + (flavor.get("OS-FLV-EXT-DATA:ephemeral") or 0)
    described = {
        "InstanceType": flavor["name"], "CurrentGeneration": True, "FreeTierEligible": False,
        "SupportedUsageClasses": ["on-demand"], "SupportedRootDeviceTypes": ["ebs", "instance-store"],
        "SupportedVirtualizationTypes": ["hvm"], "BareMetal": False, "Hypervisor": "xen",
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        "VCpuInfo": {"DefaultVCpus": flavor.get("vcpus") or 1, "DefaultCores": flavor.get("vcpus") or 1,
                     "DefaultThreadsPerCore": 1},
        "MemoryInfo": {"SizeInMiB": flavor.get("ram") or 0},
        "InstanceStorageSupported": disk > 0,
        "EbsInfo": {"EbsOptimizedSupport": "unsupported", "EncryptionSupport": "unsupported",
                    "NvmeSupport": "unsupported"},
        "NetworkInfo": {"NetworkPerformance": "Moderate", "MaximumNetworkInterfaces": 1, "Ipv4AddressesPerInterface": 1,
                        "Ipv6AddressesPerInterface": 0, "Ipv6Supported": False, "EnaSupport": "supported"},
        "PlacementGroupInfo": {"SupportedStrategies": []}, "HibernationSupported": False,
        "BurstablePerformanceSupported": False, "DedicatedHostsSupported": False, "AutoRecoverySupported": False,
        "SupportedBootModes": ["legacy-bios"],
    }
    if disk > 0:
        described["InstanceStorageInfo"] = {"TotalSizeInGB": disk,
                                            "Disks": [{"SizeInGB": disk, "Count": 1, "Type": "ssd"}]}
    return described


_path = filters.path
FILTERS = {
    "instance-type": _path("InstanceType"), "current-generation": _path("CurrentGeneration"),
    "free-tier-eligible": _path("FreeTierEligible"), "bare-metal": _path("BareMetal"),
    "hypervisor": _path("Hypervisor"), "vcpu-info.default-vcpus": _path("VCpuInfo.DefaultVCpus"),
    "vcpu-info.default-cores": _path("VCpuInfo.DefaultCores"),
    "memory-info.size-in-mib": _path("MemoryInfo.SizeInMiB"),
    "instance-storage-supported": _path("InstanceStorageSupported"),
    "instance-storage-info.total-size-in-gb": _path("InstanceStorageInfo.TotalSizeInGB"),
    "processor-info.supported-architecture": _path("ProcessorInfo.SupportedArchitectures"),
    "supported-usage-class": _path("SupportedUsageClasses"),
    "supported-root-device-type": _path("SupportedRootDeviceTypes"),
    "supported-virtualization-type": _path("SupportedVirtualizationTypes"),
    "hibernation-supported": _path("HibernationSupported"),
    "burstable-performance-supported": _path("BurstablePerformanceSupported"),
    "dedicated-hosts-supported": _path("DedicatedHostsSupported"),
    "auto-recovery-supported": _path("AutoRecoverySupported"),
}


@action("DescribeInstanceTypes")
async def describe_instance_types(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=100)
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    flavors = await (await ctx.cloud()).nova.flavors()
    types = sorted((instance_type(f) for f in flavors), key=lambda t: t["InstanceType"])
    wanted = params.get("InstanceTypes") or []
    if wanted:
        known = {t["InstanceType"] for t in types}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise errors.InvalidInstanceType(f"The following supplied instance types do not exist: "
                                             f"[{', '.join(n[:64] for n in unknown)}]")
        types = [t for t in types if t["InstanceType"] in set(wanted)]
    return paging.answer(ctx, "InstanceTypes", filters.apply(types, compiled), params)


OFFERING_FILTERS = {"instance-type": _path("InstanceType"), "location": _path("Location")}


@action("DescribeInstanceTypeOfferings")
async def describe_instance_type_offerings(ctx: RequestContext, params: dict) -> dict:
    """Each flavor where it can be launched: in the region, or in each zone Nova offers. A flavor Nova limits
    to some hosts (aggregates) still shows in every zone: the host aggregates behind a zone are the operator's
    to read (Nova's admin API), and a launch the scheduler cannot place fails as AWS reports it."""
    paging.check_max_results(params, low=5, high=1000)
    kind = params.get("LocationType") or "region"
    if kind not in ("region", "availability-zone", "availability-zone-id"):
        raise errors.InvalidParameterValue(f"Value ({str(kind)[:64]}) for parameter locationType is invalid. Valid "
                                           "values are region, availability-zone and availability-zone-id")
    compiled = filters.compile_filters(params.get("Filters"), OFFERING_FILTERS, ctx.action)
    flavors = sorted(f["name"] for f in await (await ctx.cloud()).nova.flavors())
    zones = await ctx.services.availability_zones() if kind != "region" else []
    locations = [ctx.region] if kind == "region" else zones if kind == "availability-zone" else \
        [servers.zone_id(ctx.region, zone) for zone in zones]
    offerings = [{"InstanceType": name, "LocationType": kind, "Location": location}
                 for location in locations for name in flavors]
    return paging.answer(ctx, "InstanceTypeOfferings", filters.apply(offerings, compiled), params)
