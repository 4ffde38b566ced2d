// A whole stack through the AWS SDK for JavaScript v3, with its own waiters and paginators: its serializers
// and parsers are generated apart from botocore's, so it catches what botocore forgives.
// Run by tests/test_js_sdk.py: EC2PROXY_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
import * as ec2sdk from "@aws-sdk/client-ec2";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const {
  EC2Client, paginateDescribeInstances, paginateDescribeTags, waitUntilInstanceRunning,
  waitUntilInstanceTerminated, waitUntilVolumeAvailable, waitUntilVolumeInUse, waitUntilInstanceStopped,
} = ec2sdk;
const endpoint = process.env.EC2PROXY_ENDPOINT;
const config = { endpoint, region: process.env.AWS_REGION, maxAttempts: 1 };
const ec2 = new EC2Client(config);
const wait = { client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 };
const call = (name, input = {}) => ec2.send(new ec2sdk[`${name}Command`](input));
const done = [];
const step = (what) => done.push(what);

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const who = await new STSClient(config).send(new GetCallerIdentityCommand({}));
check(who.Account && who.Arn.startsWith("arn:aws:iam::"), "GetCallerIdentity");
step("sts");

const zones = (await call("DescribeAvailabilityZones")).AvailabilityZones.map((z) => z.ZoneName);
const zone = zones[zones.length - 1];  // the last zone: the instance must follow its subnet there
const image = (await call("DescribeImages", { Filters: [{ Name: "state", Values: ["available"] }] })).Images[0];
const vpc = (await call("CreateVpc", { CidrBlock: "10.77.0.0/16" })).Vpc;
const subnet = (await call("CreateSubnet", { VpcId: vpc.VpcId, CidrBlock: "10.77.1.0/24", AvailabilityZone: zone }))
  .Subnet;
check(subnet.AvailabilityZone === zone, "the subnet's zone");
const group = await call("CreateSecurityGroup", { GroupName: "js-web", Description: "js", VpcId: vpc.VpcId });
await call("AuthorizeSecurityGroupIngress", {
  GroupId: group.GroupId,
  IpPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "10.0.0.0/8" }] }],
});
const key = await call("CreateKeyPair", { KeyName: "js-key" });
check(key.KeyMaterial.includes("PRIVATE KEY"), "key material");
step("network");

const launched = await call("RunInstances", {
  ImageId: image.ImageId, MinCount: 2, MaxCount: 2, InstanceType: "t2.micro", SubnetId: subnet.SubnetId,
  SecurityGroupIds: [group.GroupId], KeyName: "js-key", ClientToken: "js-stack",
  TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "stack", Value: "js" }] }],
});
const ids = launched.Instances.map((i) => i.InstanceId);
check(launched.Instances.every((i) => i.Placement.AvailabilityZone === zone), "instances in the subnet's zone");
await waitUntilInstanceRunning(wait, { InstanceIds: ids });
const again = await call("RunInstances", {
  ImageId: image.ImageId, MinCount: 2, MaxCount: 2, InstanceType: "t2.micro", SubnetId: subnet.SubnetId,
  SecurityGroupIds: [group.GroupId], KeyName: "js-key", ClientToken: "js-stack",
  TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "stack", Value: "js" }] }],
});
check(again.ReservationId === launched.ReservationId, "ClientToken replay");
step("instances");

const volume = await call("CreateVolume", { Size: 1, AvailabilityZone: zone, VolumeType: "gp2" });
await waitUntilVolumeAvailable(wait, { VolumeIds: [volume.VolumeId] });
await call("AttachVolume", { VolumeId: volume.VolumeId, InstanceId: ids[0], Device: "/dev/sdf" });
await waitUntilVolumeInUse(wait, { VolumeIds: [volume.VolumeId] });
await call("DetachVolume", { VolumeId: volume.VolumeId });
await waitUntilVolumeAvailable(wait, { VolumeIds: [volume.VolumeId] });
await call("DeleteVolume", { VolumeId: volume.VolumeId });
step("volumes");

const address = await call("AllocateAddress", { Domain: "vpc" });
const gateway = (await call("CreateInternetGateway")).InternetGateway;
await call("AttachInternetGateway", { InternetGatewayId: gateway.InternetGatewayId, VpcId: vpc.VpcId });
const association = await call("AssociateAddress", { AllocationId: address.AllocationId, InstanceId: ids[0] });
const shown = (await call("DescribeAddresses", { AllocationIds: [address.AllocationId] })).Addresses[0];
check(shown.InstanceId === ids[0] && shown.AssociationId === association.AssociationId, "address associated");
const ptr = (await call("DescribeAddressesAttribute", { AllocationIds: [address.AllocationId],
  Attribute: "domain-name" })).Addresses[0];
check(ptr.AllocationId === address.AllocationId, "DescribeAddressesAttribute");
await call("DisassociateAddress", { AssociationId: association.AssociationId });
await call("ReleaseAddress", { AllocationId: address.AllocationId });
step("addresses");

let seen = [];
for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 },
  { Filters: [{ Name: "tag:stack", Values: ["js"] }] })) {
  seen = seen.concat(page.Reservations.flatMap((r) => r.Instances.map((i) => i.InstanceId)));
}
check(JSON.stringify(seen.sort()) === JSON.stringify([...ids].sort()), `paginated instances ${seen}`);
for (const [n, id] of ids.entries()) {
  await call("CreateTags", { Resources: [id], Tags: [{ Key: `extra${n}`, Value: "x" }, { Key: "Name", Value: id }] });
}
let tags = [];
for await (const page of paginateDescribeTags({ client: ec2, pageSize: 5 },
  { Filters: [{ Name: "resource-id", Values: ids }] })) {
  tags = tags.concat(page.Tags);
}
check(tags.length === 6, `paginated tags ${tags.length}`);
step("paging");

await call("StopInstances", { InstanceIds: [ids[1]] });
await waitUntilInstanceStopped(wait, { InstanceIds: [ids[1]] });
await call("TerminateInstances", { InstanceIds: ids });
await waitUntilInstanceTerminated(wait, { InstanceIds: ids });
step("terminated");

async function freed(name, input) {  // ports go a moment after their servers
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(name, input);
    } catch (error) {
      if (attempt > 60 || error.name !== "DependencyViolation") throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
await freed("DetachInternetGateway", { InternetGatewayId: gateway.InternetGatewayId, VpcId: vpc.VpcId });
await call("DeleteInternetGateway", { InternetGatewayId: gateway.InternetGatewayId });
await freed("DeleteSecurityGroup", { GroupId: group.GroupId });
await freed("DeleteSubnet", { SubnetId: subnet.SubnetId });
await call("DeleteVpc", { VpcId: vpc.VpcId });
await call("DeleteKeyPair", { KeyName: "js-key" });
step("torn down");

try {
  await call("DescribeInstances", { InstanceIds: ["i-0123456789abcdef0"] });
  throw new Error("check failed: an unknown instance was described");
} catch (error) {
  check(error.name === "InvalidInstanceID.NotFound" && error.$metadata.httpStatusCode === 400,
    `modeled error ${error.name}`);
}
step("errors");
console.log(JSON.stringify({ ok: true, steps: done }));
