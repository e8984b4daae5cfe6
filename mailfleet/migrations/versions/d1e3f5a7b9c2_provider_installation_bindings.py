"""provider installation bindings: the installation a domain's zone and a mailbox were made at

Both columns are nullable (None: the deployment's own account) and have no ON DELETE action:
deleting an installation still in use is refused.

SQLite adds each column with its REFERENCES clause in place (ALTER TABLE ADD COLUMN takes one
when the default is NULL) instead of the batch copy-and-move: recreating `mailboxes` would drop
the triggers that keep slot_counts.

Revision ID: d1e3f5a7b9c2
Revises: 9a4c6e8f0b13
Create Date: 2026-12-03 07:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1e3f5a7b9c2"
down_revision: str | None = "9a4c6e8f0b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column)
BINDINGS = (("domains", "dns_installation_id"), ("mailboxes", "installation_id"))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in BINDINGS:
        fk = op.f(f"fk_{table}_{column}_provider_installations")
        if sqlite:
            # CHAR(32): how sa.Uuid is stored on SQLite, as in every other id column.
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} CHAR(32) "
                f"CONSTRAINT {fk} REFERENCES provider_installations (id)"
            )
        else:
            op.add_column(table, sa.Column(column, sa.Uuid(), nullable=True))
            op.create_foreign_key(fk, table, "provider_installations", [column], ["id"])
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in reversed(BINDINGS):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        if sqlite:
            # SQLite drops a column only when no constraint names it: the batch copy is needed,
            # and then the slot-count triggers on mailboxes must be made again by hand.
            raise NotImplementedError("downgrade below d1e3f5a7b9c2 is not supported on SQLite")
        op.drop_constraint(
            op.f(f"fk_{table}_{column}_provider_installations"), table, type_="foreignkey"
        )
        op.drop_column(table, column)
