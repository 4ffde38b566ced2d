"""Changes to launch templates (ours whole: Nova has no counterpart): a template with its first version and
tags, further versions numbered one after the other, the default version, deletions."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy.db.models import LaunchTemplate, LaunchTemplateVersion, utcnow
from ec2proxy.ec2 import errors
from ec2proxy.readmodels.launch_templates import id_not_found, version_not_found
from ec2proxy.state import tag_writes


def _duplicate(name: str) -> errors.EC2Error:
    return errors.InvalidLaunchTemplateNameAlreadyExists(
        f"Launch template name already in use: {name[:128]}")


async def create(session, template: LaunchTemplate, first: LaunchTemplateVersion, tags: list[dict]) -> None:
    """The template and its version 1; a name the project already uses is refused."""
    taken = (await session.scalars(select(LaunchTemplate.template_id).where(
        LaunchTemplate.project_id == template.project_id, LaunchTemplate.name == template.name))).first()
    if taken is not None:
        raise _duplicate(template.name)
    session.add(template)
    session.add(first)
    try:
        await session.flush()
    except IntegrityError:  # a request that ran alongside took the name
        raise _duplicate(template.name) from None
    await tag_writes.write(session, template.project_id, {template.template_id: tags})


async def add_version(session, template_id: str, row: LaunchTemplateVersion) -> LaunchTemplate:
    """``row`` as the template's next version (its number set here); the template as it is then."""
    # the number taken by one UPDATE first: it holds the template's row (SQLite: the database) until the
    # transaction ends, so two at once number one after the other; it never falls back below a deleted version
    taken = await session.execute(update(LaunchTemplate).where(LaunchTemplate.template_id == template_id).values(
        latest_version=LaunchTemplate.latest_version + 1))
    if not taken.rowcount:
        raise id_not_found(template_id)
    template = await session.get(LaunchTemplate, template_id, populate_existing=True)
    row.version = template.latest_version
    session.add(row)
    await session.flush()
    return template


async def set_default(session, template: LaunchTemplate, number: int) -> None:
    exists = (await session.scalars(select(LaunchTemplateVersion.version).where(
        LaunchTemplateVersion.template_id == template.template_id, LaunchTemplateVersion.version == number))).first()
    if exists is None:
        raise version_not_found(template.template_id, number)
    await session.execute(update(LaunchTemplate).where(LaunchTemplate.template_id == template.template_id).values(
        default_version=number))


async def remove(session, template: LaunchTemplate) -> None:
    await session.execute(delete(LaunchTemplateVersion).where(
        LaunchTemplateVersion.template_id == template.template_id))
    await session.execute(delete(LaunchTemplate).where(LaunchTemplate.template_id == template.template_id))
    await tag_writes.forget(session, template.project_id, template.template_id)


async def remove_versions(session, template: LaunchTemplate, numbers: list[int]) -> set[int]:
    """Those of ``numbers`` the template has (never its default): which went."""
    held = set((await session.scalars(select(LaunchTemplateVersion.version).where(
        LaunchTemplateVersion.template_id == template.template_id,
        LaunchTemplateVersion.version.in_(numbers)))).all()) - {template.default_version}
    if held:
        await session.execute(delete(LaunchTemplateVersion).where(
            LaunchTemplateVersion.template_id == template.template_id, LaunchTemplateVersion.version.in_(held)))
    return held


def version_row(project_id: str, template_id: str, version: int, data: dict, description: str | None,
                created_by: str, marker: str | None = None) -> LaunchTemplateVersion:
    return LaunchTemplateVersion(template_id=template_id, version=version, project_id=project_id,
                                 description=description, data=data, created_by=created_by, created_at=utcnow(),
                                 marker=marker)
