"""STS GetCallerIdentity, answered on the EC2 endpoint.

Tools that manage EC2 ask STS who they are first (Ansible's security group
module, Terraform's AWS provider). The account is the OwnerId every EC2 answer
shows (the project), the user is the signer's own.
"""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.handlers import action


@action("GetCallerIdentity", service="sts")
async def get_caller_identity(ctx: RequestContext, params: dict) -> dict:
    user = ctx.identity.user_id
    return {"UserId": user, "Account": ctx.project_id, "Arn": f"arn:aws:iam::{ctx.project_id}:user/{user}"}
