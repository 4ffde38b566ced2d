"""Nova's vm_state/task_state -> the EC2 instance state, as data."""

from __future__ import annotations

PENDING, RUNNING, SHUTTING_DOWN, TERMINATED, STOPPING, STOPPED = (
    (0, "pending"), (16, "running"), (32, "shutting-down"), (48, "terminated"), (64, "stopping"), (80, "stopped"))

# A task in progress decides first; then the vm_state.
BY_TASK = {
    "scheduling": PENDING, "block_device_mapping": PENDING, "networking": PENDING, "spawning": PENDING,
    "powering-off": STOPPING, "powering-on": PENDING, "deleting": SHUTTING_DOWN,
    "rebooting": RUNNING, "reboot_pending": RUNNING, "reboot_started": RUNNING,
    "rebooting_hard": RUNNING, "reboot_pending_hard": RUNNING, "reboot_started_hard": RUNNING,
    "resize_prep": STOPPING, "resize_migrating": STOPPING, "resize_migrated": STOPPING,
    "resize_finish": PENDING, "image_snapshot": RUNNING, "image_uploading": RUNNING,
}
BY_VM_STATE = {
    "building": PENDING, "active": RUNNING, "stopped": STOPPED, "shelved": STOPPED,
    "shelved_offloaded": STOPPED, "paused": STOPPED, "suspended": STOPPED, "resized": STOPPED,
    "rescued": RUNNING, "soft-delete": TERMINATED, "deleted": TERMINATED, "error": TERMINATED,
}
BY_STATUS = {"BUILD": PENDING, "ACTIVE": RUNNING, "SHUTOFF": STOPPED, "DELETED": TERMINATED,
             "ERROR": TERMINATED, "REBOOT": RUNNING, "HARD_REBOOT": RUNNING, "VERIFY_RESIZE": STOPPED,
             "RESIZE": STOPPING}


RESIZE_TASKS = frozenset({"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"})


def ec2_state(server: dict) -> tuple[int, str]:
    task = server.get("OS-EXT-STS:task_state")
    if task in RESIZE_TASKS and server.get("OS-EXT-STS:vm_state") == "stopped":
        return STOPPED  # ModifyInstanceAttribute instanceType: EC2 keeps the instance stopped throughout
    if task in BY_TASK:
        return BY_TASK[task]
    vm_state = server.get("OS-EXT-STS:vm_state")
    if vm_state in BY_VM_STATE:
        return BY_VM_STATE[vm_state]
    return BY_STATUS.get(server.get("status", ""), PENDING)


def state_reason(server: dict) -> dict | None:
    """Why an instance stopped or died, when Nova says."""
    if server.get("status") == "ERROR" or server.get("OS-EXT-STS:vm_state") == "error":
        fault = server.get("fault") or {}
        return {"Code": "Server.InternalError",
                "Message": f"Server.InternalError: {fault.get('message', 'The instance failed to launch')}"}
    if server.get("status") == "DELETED":
        return {"Code": "Client.UserInitiatedShutdown",
                "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
    return None
