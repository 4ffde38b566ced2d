"""instances.block_device_mappings: the Cinder id of a volume attached through AttachVolume is the declared
``CinderVolumeId`` (it was kept under ``_os_volume``)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INSTANCES = sa.table("instances", sa.column("os_id", sa.String), sa.column("block_device_mappings", sa.JSON))
BATCH = 500


def _rename(old: str, new: str) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(INSTANCES.c.os_id, INSTANCES.c.block_device_mappings)).all()
    changed = []
    for os_id, mappings in rows:
        if any(old in m for m in mappings or []):
            changed.append({"key": os_id, "mappings": [{(new if k == old else k): v for k, v in m.items()}
                                                       for m in mappings]})
    statement = INSTANCES.update().where(INSTANCES.c.os_id == sa.bindparam("key")).values(
        block_device_mappings=sa.bindparam("mappings", type_=sa.JSON))
    for start in range(0, len(changed), BATCH):
        bind.execute(statement, changed[start:start + BATCH])


def upgrade() -> None:
    _rename("_os_volume", "CinderVolumeId")


def downgrade() -> None:
    _rename("CinderVolumeId", "_os_volume")
