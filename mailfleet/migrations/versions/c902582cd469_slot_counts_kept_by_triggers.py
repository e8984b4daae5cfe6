"""slot counts kept by triggers

Revision ID: c902582cd469
Revises: f1f884ef99ed
Create Date: 2026-11-21 10:07:36.105646

The quota check (business rule 4) counted every mailbox of the workspace and type on each order,
so ordering slowed down as a workspace grew. `slot_counts` holds that count, kept by triggers on
`mailboxes` so that every writer (requests, jobs, the CLI, cascaded deletes) keeps it right.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c902582cd469"
down_revision: str | None = "f1f884ef99ed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.enums.DOMAIN_SLOT_STATUSES when this migration was written.
LIVE = "('PENDING', 'PROVISIONING', 'ACTIVE', 'SUSPENDED', 'REMOVAL_SCHEDULED')"
SLOT_MOVED = (
    f"(OLD.status IN {LIVE}) <> (NEW.status IN {LIVE})"
    " OR OLD.workspace_id <> NEW.workspace_id OR OLD.mailbox_type <> NEW.mailbox_type"
)
UPDATED = "AFTER UPDATE OF status, workspace_id, mailbox_type ON mailboxes"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER slot_counts_on_insert AFTER INSERT ON mailboxes
    WHEN NEW.status IN {LIVE}
    BEGIN
        INSERT INTO slot_counts (workspace_id, mailbox_type, live)
        VALUES (NEW.workspace_id, NEW.mailbox_type, 1)
        ON CONFLICT (workspace_id, mailbox_type) DO UPDATE SET live = live + 1;
    END""",
    f"""CREATE TRIGGER slot_counts_on_delete AFTER DELETE ON mailboxes
    WHEN OLD.status IN {LIVE}
    BEGIN
        UPDATE slot_counts SET live = live - 1
        WHERE workspace_id = OLD.workspace_id AND mailbox_type = OLD.mailbox_type;
    END""",
    f"""CREATE TRIGGER slot_counts_on_update {UPDATED}
    WHEN {SLOT_MOVED}
    BEGIN
        UPDATE slot_counts SET live = live - 1
        WHERE OLD.status IN {LIVE}
            AND workspace_id = OLD.workspace_id AND mailbox_type = OLD.mailbox_type;
        INSERT INTO slot_counts (workspace_id, mailbox_type, live)
        SELECT NEW.workspace_id, NEW.mailbox_type, 1 WHERE NEW.status IN {LIVE}
        ON CONFLICT (workspace_id, mailbox_type) DO UPDATE SET live = live + 1;
    END""",
]

POSTGRESQL_FUNCTION = f"""CREATE FUNCTION slot_counts_follow_mailboxes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.status IN {LIVE} THEN
            UPDATE slot_counts SET live = live - 1
            WHERE workspace_id = OLD.workspace_id AND mailbox_type = OLD.mailbox_type;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.status IN {LIVE} THEN
            INSERT INTO slot_counts AS counted (workspace_id, mailbox_type, live)
            VALUES (NEW.workspace_id, NEW.mailbox_type, 1)
            ON CONFLICT (workspace_id, mailbox_type) DO UPDATE SET live = counted.live + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$"""
FOLLOW = "FOR EACH ROW {when} EXECUTE FUNCTION slot_counts_follow_mailboxes()"
POSTGRESQL_TRIGGERS = [
    POSTGRESQL_FUNCTION,
    "CREATE TRIGGER slot_counts_on_insert AFTER INSERT ON mailboxes "
    + FOLLOW.format(when=f"WHEN (NEW.status IN {LIVE})"),
    "CREATE TRIGGER slot_counts_on_delete AFTER DELETE ON mailboxes "
    + FOLLOW.format(when=f"WHEN (OLD.status IN {LIVE})"),
    f"CREATE TRIGGER slot_counts_on_update {UPDATED} "
    + FOLLOW.format(when=f"WHEN ({SLOT_MOVED})"),
]

BACKFILL = f"""INSERT INTO slot_counts (workspace_id, mailbox_type, live)
SELECT workspace_id, mailbox_type, count(*) FROM mailboxes WHERE status IN {LIVE}
GROUP BY workspace_id, mailbox_type"""


def upgrade() -> None:
    op.create_table(
        "slot_counts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column(
            "mailbox_type",
            sa.Enum(
                "GOOGLE",
                "MICROSOFT",
                "SMTP",
                "SMTP_DEDICATED",
                name="mailboxtype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("live", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_slot_counts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "mailbox_type", name=op.f("pk_slot_counts")),
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxes_workspace_id_mailbox_type_status"))
        batch_op.create_index(
            batch_op.f("ix_mailboxes_workspace_id_mailbox_type_status_expires_at"),
            ["workspace_id", "mailbox_type", "status", "expires_at"],
            unique=False,
        )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    for trigger in ("slot_counts_on_insert", "slot_counts_on_delete", "slot_counts_on_update"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {trigger} ON mailboxes")
        else:
            op.execute(f"DROP TRIGGER {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION slot_counts_follow_mailboxes()")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxes_workspace_id_mailbox_type_status_expires_at"))
        batch_op.create_index(
            batch_op.f("ix_mailboxes_workspace_id_mailbox_type_status"),
            ["workspace_id", "mailbox_type", "status"],
            unique=False,
        )
    op.drop_table("slot_counts")
