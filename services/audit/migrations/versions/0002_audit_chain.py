"""audit chain: append-only hash-chained entries, the locked head, signed checkpoints, the writer role

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00

Append-only is enforced by Postgres itself:

- triggers refuse UPDATE, DELETE and TRUNCATE on ``audit_entries`` and ``audit_checkpoints`` and
  guard ``audit_head`` (one row, moving only forward, always naming the last entry's hash); they
  are ``ENABLE ALWAYS``, so they fire under ``session_replication_role = replica`` too. A DBA must
  disable them explicitly to tamper, and ``verify()`` then finds the damage;
- the group role ``mts_audit_writer`` (NOLOGIN; a service logs in as a member of it) may SELECT
  the three tables and EXECUTE the SECURITY DEFINER append functions, nothing else on them. It may
  also use the core ``outbox`` table, where the events of an append are enqueued in its transaction;
- ``audit_append`` re-checks every entry it is given against the head it holds locked: the hash is
  the SHA-256 of the canonical bytes, the sequences continue the head without a gap, every prev
  links to the entry before, and the column copies are taken from the hashed bytes themselves.

The role is cluster-wide and possibly used by other databases, so the downgrade leaves it.
"""

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

WRITER_ROLE = "mts_audit_writer"

_TABLES = """
CREATE TABLE audit_entries (
    sequence        bigint      PRIMARY KEY CHECK (sequence >= 0),
    timestamp_us    bigint      NOT NULL CHECK (timestamp_us >= 0),
    actor           text        NOT NULL CHECK (actor <> ''),
    action          text        NOT NULL CHECK (action <> ''),
    subject_id      text        NOT NULL,
    data            jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    canonical       bytea       NOT NULL,
    prev_hash       text        NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash            text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    source_event_id text        NULL UNIQUE CHECK (source_event_id <> '')
);
CREATE INDEX audit_entries_subject_idx ON audit_entries (subject_id, sequence);
COMMENT ON TABLE audit_entries IS
    'the hash chain: canonical holds the exact hashed bytes (the other columns are copies of what '
    'they say, for queries); append only through audit_append()';

CREATE TABLE audit_head (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    next_sequence bigint  NOT NULL CHECK (next_sequence >= 0),
    head_hash     text    NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$')
);
INSERT INTO audit_head (singleton, next_sequence, head_hash) VALUES (true, 0, repeat('0', 64));
COMMENT ON TABLE audit_head IS
    'exactly one row: the sequence the next entry gets and the hash it must link to; locked FOR '
    'UPDATE by each append batch, which is what serialises appends without gaps or forks';

CREATE TABLE audit_checkpoints (
    tree_size   bigint      NOT NULL CHECK (tree_size >= 1),
    key_id      text        NOT NULL CHECK (key_id ~ '^[0-9a-f]{8}$'),
    head_hash   text        NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
    merkle_root text        NOT NULL CHECK (merkle_root ~ '^[0-9a-f]{64}$'),
    note        text        NOT NULL CHECK (note <> ''),
    signed_at   timestamptz NOT NULL,
    PRIMARY KEY (tree_size, key_id)
);
COMMENT ON TABLE audit_checkpoints IS
    'signed chain heads: a C2SP signed note over the RFC 6962 root of the first tree_size entries';
"""

_GUARDS = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
BEGIN
    RAISE EXCEPTION '% on % is refused: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$fn$;

CREATE FUNCTION audit_head_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION '% on audit_head is refused: it holds exactly one row', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.singleton IS DISTINCT FROM OLD.singleton OR NEW.next_sequence < OLD.next_sequence THEN
        RAISE EXCEPTION 'audit_head may only move forward (from % to %)', OLD.next_sequence, NEW.next_sequence
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.next_sequence = 0 THEN
        IF NEW.head_hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'audit_head of an empty chain must hold the genesis hash'
                USING ERRCODE = 'restrict_violation';
        END IF;
    ELSIF NOT EXISTS (
        SELECT 1 FROM audit_entries e WHERE e.sequence = NEW.next_sequence - 1 AND e.hash = NEW.head_hash
    ) THEN
        RAISE EXCEPTION 'audit_head must name the hash of entry %', NEW.next_sequence - 1
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_guard();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- ALWAYS: also under session_replication_role = replica, which silences ordinary triggers.
ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_append_only;
ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_no_truncate;
ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_append_only;
ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_no_truncate;
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_guard;
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;
"""

_FUNCTIONS = """
CREATE FUNCTION audit_lock_head(OUT next_sequence bigint, OUT head_hash text, OUT head_timestamp_us bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
    SELECT h.next_sequence, h.head_hash,
           (SELECT e.timestamp_us FROM audit_entries e WHERE e.sequence = h.next_sequence - 1)
    FROM audit_head h FOR UPDATE
$fn$;
COMMENT ON FUNCTION audit_lock_head() IS
    'lock the chain head until the end of the transaction; returns the next sequence, the hash '
    'the next entry must link to and the timestamp of the last entry (NULL for an empty chain)';

-- One row per entry of a batch, with what is wrong with it (NULL when it may be appended).
CREATE FUNCTION audit_check_batch(
    p_canonical bytea[], p_hash text[], p_source_event_id text[], p_next bigint, p_head text
) RETURNS TABLE (ord bigint, canonical bytea, hash text, source_event_id text, doc jsonb, problem text)
LANGUAGE sql STABLE SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
    SELECT e.ord, e.canonical, e.hash, e.source_event_id, e.doc,
           CASE
               WHEN e.hash IS NULL OR e.canonical IS NULL
                    OR encode(sha256(e.canonical), 'hex') <> e.hash
                   THEN 'its hash is not the SHA-256 of its canonical bytes'
               WHEN e.doc->>'v' IS DISTINCT FROM '1' THEN 'it is not a version-1 audit entry'
               WHEN e.doc->>'seq' IS DISTINCT FROM (p_next + e.ord - 1)::text
                   THEN format('it carries sequence %s where the head expects %s',
                               coalesce(e.doc->>'seq', 'none'), p_next + e.ord - 1)
               WHEN e.doc->>'prev' IS DISTINCT FROM e.expected_prev
                   THEN 'its prev does not link to the entry before it (or to the head)'
               WHEN jsonb_typeof(e.doc->'ts') IS DISTINCT FROM 'number'
                    OR jsonb_typeof(e.doc->'actor') IS DISTINCT FROM 'string'
                    OR jsonb_typeof(e.doc->'action') IS DISTINCT FROM 'string'
                    OR jsonb_typeof(e.doc->'subject') IS DISTINCT FROM 'string'
                    OR jsonb_typeof(e.doc->'data') IS DISTINCT FROM 'object'
                   THEN 'its ts, actor, action, subject or data member has the wrong type'
               WHEN e.source_event_id = '' THEN 'its source_event_id is empty'
           END
    FROM (
        SELECT u.ord, u.canonical, u.hash, u.source_event_id,
               convert_from(u.canonical, 'UTF8')::jsonb AS doc,
               coalesce(lag(u.hash) OVER (ORDER BY u.ord), p_head) AS expected_prev
        FROM unnest(p_canonical, p_hash, p_source_event_id)
             WITH ORDINALITY AS u(canonical, hash, source_event_id, ord)
    ) e
$fn$;

CREATE FUNCTION audit_append(p_canonical bytea[], p_hash text[], p_source_event_id text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
DECLARE
    v_count integer := coalesce(array_length(p_canonical, 1), 0);
    v_next  bigint;
    v_head  text;
    v_added bigint;
    v_bad   record;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'audit_append needs at least one entry' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(array_length(p_hash, 1), 0) <> v_count
       OR coalesce(array_length(p_source_event_id, 1), 0) <> v_count THEN
        RAISE EXCEPTION 'audit_append needs as many hashes and source event ids as canonical entries'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT h.next_sequence, h.head_hash INTO v_next, v_head FROM audit_head h FOR UPDATE;

    INSERT INTO audit_entries (sequence, timestamp_us, actor, action, subject_id, data,
                               canonical, prev_hash, hash, source_event_id)
    SELECT (c.doc->>'seq')::bigint, (c.doc->>'ts')::bigint, c.doc->>'actor', c.doc->>'action',
           c.doc->>'subject', c.doc->'data', c.canonical, c.doc->>'prev', c.hash, c.source_event_id
    FROM audit_check_batch(p_canonical, p_hash, p_source_event_id, v_next, v_head) c
    WHERE c.problem IS NULL
    ORDER BY c.ord;
    GET DIAGNOSTICS v_added = ROW_COUNT;

    IF v_added <> v_count THEN
        SELECT c.ord, c.problem INTO v_bad
        FROM audit_check_batch(p_canonical, p_hash, p_source_event_id, v_next, v_head) c
        WHERE c.problem IS NOT NULL ORDER BY c.ord LIMIT 1;
        RAISE EXCEPTION 'audit_append refused the batch: entry % of % (sequence %) is wrong: %',
            v_bad.ord, v_count, v_next + v_bad.ord - 1, v_bad.problem
            USING ERRCODE = 'check_violation';
    END IF;

    UPDATE audit_head SET next_sequence = v_next + v_count, head_hash = p_hash[v_count];
    RETURN v_next + v_count;
END
$fn$;
COMMENT ON FUNCTION audit_append(bytea[], text[], text[]) IS
    'append entries (canonical bytes, their hashes, optional source event ids) after the head, '
    'checking each, and advance the head; all or nothing';

CREATE FUNCTION audit_record_checkpoint(
    p_tree_size bigint, p_key_id text, p_head_hash text, p_merkle_root text, p_note text,
    p_signed_at timestamptz
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $fn$
DECLARE
    v_added bigint;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM audit_entries e WHERE e.sequence = p_tree_size - 1 AND e.hash = p_head_hash
    ) THEN
        RAISE EXCEPTION 'checkpoint refused: entry % does not have the hash %', p_tree_size - 1, p_head_hash
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO audit_checkpoints (tree_size, key_id, head_hash, merkle_root, note, signed_at)
    VALUES (p_tree_size, p_key_id, p_head_hash, p_merkle_root, p_note, p_signed_at)
    ON CONFLICT (tree_size, key_id) DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    RETURN v_added = 1;
END
$fn$;
COMMENT ON FUNCTION audit_record_checkpoint(bigint, text, text, text, text, timestamptz) IS
    'store a signed checkpoint of the first tree_size entries; false when that key already signed that size';
"""

_FUNCTION_SIGNATURES = (
    "audit_lock_head()",
    "audit_check_batch(bytea[], text[], text[], bigint, text)",
    "audit_append(bytea[], text[], text[])",
    "audit_record_checkpoint(bigint, text, text, text, text, timestamptz)",
    "audit_refuse_change()",
    "audit_head_guard()",
)
_GRANTED_FUNCTIONS = (
    "audit_lock_head()",
    "audit_append(bytea[], text[], text[])",
    "audit_record_checkpoint(bigint, text, text, text, text, timestamptz)",
)

_WRITER_ROLE = f"""
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WRITER_ROLE}') THEN
        CREATE ROLE {WRITER_ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object THEN
    NULL;  -- created by a concurrent migration of another database in the same cluster
END
$do$;
"""  # noqa: S608 - constants only

# The writer enqueues its events in the append's transaction; a relay logged in as a writer
# claims (FOR UPDATE, hence UPDATE) and deletes published rows.
_OUTBOX_GRANTS = f"""
DO $do$
BEGIN
    IF to_regclass('outbox') IS NOT NULL THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO {WRITER_ROLE};
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {WRITER_ROLE}',
                       pg_get_serial_sequence('outbox', 'id'));
    END IF;
END
$do$;
"""

_OUTBOX_REVOKES = f"""
DO $do$
BEGIN
    IF to_regclass('outbox') IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WRITER_ROLE}') THEN
        REVOKE SELECT, INSERT, UPDATE, DELETE ON outbox FROM {WRITER_ROLE};
        EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {WRITER_ROLE}',
                       pg_get_serial_sequence('outbox', 'id'));
    END IF;
END
$do$;
"""  # noqa: S608 - constants only


def _statements(script: str) -> list[str]:
    """Split a script into statements (asyncpg prepares each, and a prepared statement holds one).

    A statement ends with a line ending in ``;`` outside a dollar-quoted body.
    """
    statements, current, in_body = [], [], False
    for line in script.splitlines():
        current.append(line)
        in_body ^= (line.count("$fn$") + line.count("$do$")) % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(current).strip()
            if statement.strip(";").strip():
                statements.append(statement)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


def _run(script: str, schema: str | None = None) -> None:
    for statement in _statements(script if schema is None else script.replace("{schema}", schema)):
        op.execute(statement)


def _schema() -> str:
    return str(op.get_bind().execute(text("SELECT quote_ident(current_schema())")).scalar_one())


def upgrade() -> None:
    schema = _schema()
    _run(_TABLES)
    _run(_GUARDS, schema)
    _run(_FUNCTIONS, schema)
    _run(_WRITER_ROLE)
    op.execute("REVOKE ALL ON audit_entries, audit_head, audit_checkpoints FROM PUBLIC")
    op.execute(f"GRANT SELECT ON audit_entries, audit_head, audit_checkpoints TO {WRITER_ROLE}")
    for signature in _FUNCTION_SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for signature in _GRANTED_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {WRITER_ROLE}")
    _run(_OUTBOX_GRANTS)


def downgrade() -> None:
    _run(_OUTBOX_REVOKES)
    # Dropping the tables is not an UPDATE, DELETE or TRUNCATE: the triggers go with them.
    op.execute("DROP TABLE audit_checkpoints, audit_head, audit_entries")
    for signature in _FUNCTION_SIGNATURES:
        op.execute(f"DROP FUNCTION {signature}")
