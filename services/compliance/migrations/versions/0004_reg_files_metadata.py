"""reg_files: the metadata file that goes with a data file (CAT's .meta.json)

Revision ID: 0004
Revises: 0003
Create Date: 2026-03-20 00:00:00

A regime that wants a metadata file after each data file (CAT) has it made once, when the data
file is cut, and stored on the data file's row: every submission round delivers these same
bytes, and operators see its name and hash beside the data file's. Not a reg_files row of its
own: the filer, the sequence and the overdue gauge would take it for a file of reports, and it
must go after its data file, never on its own.

``data_delivered_at``: when the data file reached the transport, committed before its metadata
file is sent, so a later try sends only the metadata file (CAT refuses a data file name it
already received, error 1103). Set for every file once it is submitted.

No grant: these are columns of reg_files, which 0003 granted to mts_compliance_rw as a table
(privileges on a table cover the columns added later).
"""

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE reg_files
            ADD COLUMN metadata_name       text UNIQUE CHECK (metadata_name <> ''),
            ADD COLUMN metadata_content    bytea,
            ADD COLUMN metadata_media_type text,
            ADD COLUMN metadata_sha256     text CHECK (metadata_sha256 ~ '^[0-9a-f]{64}$'),
            ADD COLUMN data_delivered_at   timestamptz,
            ADD CONSTRAINT reg_files_metadata_whole CHECK (
                (metadata_name IS NULL) = (metadata_content IS NULL)
                AND (metadata_name IS NULL) = (metadata_media_type IS NULL)
                AND (metadata_name IS NULL) = (metadata_sha256 IS NULL)
            ),
            ADD CONSTRAINT reg_files_metadata_own_name CHECK (metadata_name <> name)
        """
    )
    op.execute(
        "COMMENT ON COLUMN reg_files.metadata_name IS 'the metadata file submitted right after this "
        "data file (CAT: <name>.meta.json); NULL when the regime has none'"
    )
    op.execute(
        "COMMENT ON COLUMN reg_files.data_delivered_at IS 'when the data file went (a later try "
        "sends only its metadata file); NULL while it has not'"
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE reg_files
            DROP CONSTRAINT reg_files_metadata_own_name,
            DROP CONSTRAINT reg_files_metadata_whole,
            DROP COLUMN data_delivered_at,
            DROP COLUMN metadata_sha256,
            DROP COLUMN metadata_media_type,
            DROP COLUMN metadata_content,
            DROP COLUMN metadata_name
        """
    )
