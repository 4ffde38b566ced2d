"""Schema changes go through Alembic: the migrated database must equal the models, on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import asyncio
import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ec2proxy import db
from ec2proxy.db.models import Base


def _diff(url: str) -> list:
    async def compare() -> list:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_sqlite_migrations_match_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'schema.sqlite'}"
    db.upgrade(url)
    assert _diff(url) == []


def test_shared_database_migrations_match_the_models(shared_database):
    db.upgrade(shared_database)
    assert _diff(shared_database) == []


def _device_records_through_0013(url: str) -> list:
    """An instance row written at 0012, with a volume attached through AttachVolume as 0012 recorded it, read
    back after the upgrade to head."""
    import sqlalchemy as sa

    db.upgrade(url, "0012")
    old = [{"DeviceName": "/dev/sda1", "Ebs": True, "Root": True},
           {"DeviceName": "/dev/sdf", "VolumeId": "vol-0123456789abcdef0", "_os_volume": "cinder-1",
            "DeleteOnTermination": False, "AttachTime": "2026-12-07T12:00:00+00:00"}]

    async def run(statement, *params):
        engine = db.create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(statement, *params)
                return result.all() if result.returns_rows else None
        finally:
            await engine.dispose()

    instances = sa.table("instances", sa.column("ec2_id"), sa.column("os_id"), sa.column("project_id"),
                         sa.column("block_device_mappings", sa.JSON))
    asyncio.run(run(sa.text(
        "INSERT INTO instances (ec2_id, os_id, project_id, reservation_id, launch_index, image_id, instance_type, "
        "root_device_name, block_device_mappings, metadata_options, disable_api_termination, shutdown_behavior, "
        "launched_at, generation) VALUES ('i-0123456789abcdef0', 'server-1', 'p1', 'r-0123456789abcdef0', 0, "
        "'ami-0123456789abcdef0', 't2.micro', '/dev/sda1', :mappings, '{}', false, 'stop', :at, 1)").bindparams(
        sa.bindparam("mappings", type_=sa.JSON), sa.bindparam("at", type_=sa.DateTime(timezone=True))),
        {"mappings": old, "at": datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)}))
    db.upgrade(url)
    (row,) = asyncio.run(run(sa.select(instances.c.block_device_mappings)))
    return row[0]


def test_0013_names_the_cinder_id_of_an_attached_volume(tmp_path):
    mappings = _device_records_through_0013(f"sqlite+aiosqlite:///{tmp_path / 'schema.sqlite'}")
    assert mappings[1] == {"DeviceName": "/dev/sdf", "VolumeId": "vol-0123456789abcdef0", "CinderVolumeId": "cinder-1",
                           "DeleteOnTermination": False, "AttachTime": "2026-12-07T12:00:00+00:00"}
    assert mappings[0] == {"DeviceName": "/dev/sda1", "Ebs": True, "Root": True}


def test_0013_names_the_cinder_id_on_shared_databases(shared_database):
    mappings = _device_records_through_0013(shared_database)
    assert mappings[1]["CinderVolumeId"] == "cinder-1" and "_os_volume" not in mappings[1]
