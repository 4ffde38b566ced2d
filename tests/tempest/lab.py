"""What the suite needs on the lab, made as users make it, and taken away after: the proxy, a demo EC2
credential, the public image and an EBS image (a volume-backed instance's CreateImage)."""

from __future__ import annotations

import os
import pathlib

from tests.realcloud.census import census, left_behind, sweep
from tests.realcloud.test_lab_instances import _demo_credential, as_demo, bootable_volume, lab_server, wait_running
from tests.support import until

WAIT = {"Delay": 1, "MaxAttempts": 120}
QUEUE = "ec2proxy-live-view-tempest"


def log(message: str) -> None:
    print(f"tempest: {message}", flush=True)


class Stage:
    def __init__(self, data: pathlib.Path):
        self.data = data
        self.made: list = []  # undo steps, last first
        self.leaked: list[tuple[str, str]] = []
        self.unswept: list[tuple[str, str]] = []

    def __enter__(self) -> "Stage":
        from ec2proxy.ec2 import ids

        self.before = census()
        self.data.mkdir(parents=True, exist_ok=True)
        # with the lab's notifications (LAB_NOTIFICATIONS=1, as CI runs it) the proxy's live view is on: the
        # suite's Describe* are answered from it wherever it can vouch for them
        transport = os.environ.get("LAB_TRANSPORT_URL")
        self.server = lab_server(self.data, "LAB_EC2_SERVICE", *([
            "[notifications]", f"transport_url = {transport}", f"queue = {QUEUE}", "sweep = 10"] if transport else []))
        self.credential = _demo_credential()
        self.made.append(lambda: as_demo(lambda view: view.keystone.delete_ec2_credential(
            view.scoped.user_id, self.credential["access"])))
        self.ec2 = self.server.client(self.credential["access"], self.credential["secret"])
        self.image = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
        try:
            self.ebs_image = self._ebs_image()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _ebs_image(self) -> str:
        """The lab's no-storage Cinder writes no image into a volume: the first root is a blank volume marked
        bootable in Cinder (outside EC2) and registered through its snapshot; the suite's EBS image is then
        CreateImage of an instance booted from it, as a user would make one."""
        ec2 = self.ec2
        source = bootable_volume(ec2, WAIT)
        self.made.append(lambda: self._gone(ec2.delete_volume, VolumeId=source))
        seed = ec2.create_snapshot(VolumeId=source)["SnapshotId"]
        self.made.append(lambda: self._gone(ec2.delete_snapshot, SnapshotId=seed))
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[seed], WaiterConfig=WAIT)
        registered = ec2.register_image(Name="tempest-ebs-seed", RootDeviceName="/dev/vda", BlockDeviceMappings=[
            {"DeviceName": "/dev/vda", "Ebs": {"SnapshotId": seed, "DeleteOnTermination": True}}])["ImageId"]
        self.made.append(lambda: self._gone(ec2.deregister_image, ImageId=registered))
        (first,) = ec2.run_instances(ImageId=registered, MinCount=1, MaxCount=1, InstanceType="t2.micro")[
            "Instances"]
        self.made.append(lambda: self._gone(ec2.terminate_instances, InstanceIds=[first["InstanceId"]]))
        wait_running(ec2, [first["InstanceId"]])
        image = ec2.create_image(InstanceId=first["InstanceId"], Name="tempest-ebs")["ImageId"]
        ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
        (described,) = ec2.describe_images(ImageIds=[image])["Images"]
        snapshot = described["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        self.made.append(lambda: self._gone(ec2.delete_snapshot, SnapshotId=snapshot))
        self.made.append(lambda: self._gone(ec2.deregister_image, ImageId=image))
        ec2.terminate_instances(InstanceIds=[first["InstanceId"]])
        log(f"EBS image {image} (snapshot {snapshot}), public image {self.image}")
        return image

    @staticmethod
    def _gone(call, **kwargs) -> None:
        """Undo one thing; what is already gone, or still busy for a while, is waited out, never fatal."""
        from botocore.exceptions import ClientError

        def done() -> bool:
            try:
                call(**kwargs)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                return code.endswith(".NotFound") or code not in ("VolumeInUse", "IncorrectState",
                                                                   "InvalidSnapshot.InUse", "DependencyViolation")
            return True

        try:
            until(done, 120, 2)
        except AssertionError as exc:
            log(f"could not undo {call.__name__}({kwargs}): {exc}")

    def _live_view_said(self) -> None:
        """How the proxy's Describe* were answered during the suite."""
        from tests.live_feeds import metrics

        figures = metrics(self.server)
        log("live view: " + ", ".join(f"{name.removeprefix('ec2proxy_')} {value:.0f}"
                                      for name, value in sorted(figures.items()) if "{" in name and value))

    def __exit__(self, *exc) -> None:
        while self.made:
            undo = self.made.pop()
            undo()
        # the proxy still runs while the census waits: its jobs finish what the undo began (the root volume kept
        # for the EBS image's snapshot goes once that snapshot is deleted)
        self.leaked = left_behind(self.before)
        if os.environ.get("LAB_TRANSPORT_URL"):
            self._live_view_said()
        self.server.stop()
        if os.environ.get("LAB_TRANSPORT_URL"):  # its queue, once its consumer is gone (a robust consumer would
            # declare it again): left, it would take the lab's every notification
            import asyncio

            from tests.realcloud.test_lab_live_view import _queue_deleted

            asyncio.run(_queue_deleted(os.environ["LAB_TRANSPORT_URL"], QUEUE))
        if self.leaked:  # swept, so that the next run finds the project as this one did
            log(f"the suite left these in the lab's demo project: {self.leaked}")
            self.unswept = sweep(self.leaked)
            log(f"swept; still there: {self.unswept}" if self.unswept else "swept")
