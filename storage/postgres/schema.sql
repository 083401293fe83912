-- statefold tables for PostgreSQL. Keys, labels and messages are BYTEA:
-- compared byte for byte, NUL allowed, no collation. Times are TIMESTAMPTZ
-- (microsecond precision, NULL for the zero time). Every primary key leads
-- with the partition key (the queue or the apply).
CREATE TABLE IF NOT EXISTS "statefold_batches" (
  queue      BYTEA       NOT NULL,
  id         BYTEA       NOT NULL,
  state      BYTEA       NOT NULL,
  version    BIGINT      NOT NULL,
  payload    BYTEA       NOT NULL,
  created_at TIMESTAMPTZ NULL,
  updated_at TIMESTAMPTZ NULL,
  PRIMARY KEY (queue, id)
);

CREATE TABLE IF NOT EXISTS "statefold_members" (
  queue    BYTEA       NOT NULL,
  state    BYTEA       NOT NULL,
  batch_id BYTEA       NOT NULL,
  version  BIGINT      NOT NULL,
  added_at TIMESTAMPTZ NULL,
  PRIMARY KEY (queue, state, batch_id)
);

CREATE TABLE IF NOT EXISTS "statefold_applies" (
  id             BYTEA       NOT NULL,
  state          BYTEA       NOT NULL,
  error_message  BYTEA       NOT NULL,
  stop_requested BOOLEAN     NOT NULL,
  pause_released BOOLEAN     NOT NULL,
  started_at     TIMESTAMPTZ NULL,
  completed_at   TIMESTAMPTZ NULL,
  payload        BYTEA       NOT NULL,
  version        BIGINT      NOT NULL,
  created_at     TIMESTAMPTZ NULL,
  updated_at     TIMESTAMPTZ NULL,
  PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS "statefold_operations" (
  apply_id      BYTEA       NOT NULL,
  id            BYTEA       NOT NULL,
  seq           BIGINT      NOT NULL,
  deployment    BYTEA       NOT NULL,
  op_group      BYTEA       NOT NULL,
  finalizer     BOOLEAN     NOT NULL,
  state         BYTEA       NOT NULL,
  on_failure    BYTEA       NOT NULL,
  error_message BYTEA       NOT NULL,
  started_at    TIMESTAMPTZ NULL,
  completed_at  TIMESTAMPTZ NULL,
  projected     BOOLEAN     NOT NULL DEFAULT FALSE,
  payload       BYTEA       NOT NULL,
  version       BIGINT      NOT NULL,
  created_at    TIMESTAMPTZ NULL,
  updated_at    TIMESTAMPTZ NULL,
  owner         BYTEA       NOT NULL DEFAULT ''::bytea,
  owner_token   BIGINT      NOT NULL DEFAULT 0,
  owner_until   TIMESTAMPTZ NULL,
  released_at   TIMESTAMPTZ NULL,
  projected_version BIGINT  NOT NULL DEFAULT 0,
  PRIMARY KEY (apply_id, id)
);

-- Columns added after the tables were first released: these statements add
-- each to an operations table created before it, with the definition above
-- (and change nothing on a table that has it). Rows written before read
-- with the new fields zero.
ALTER TABLE "statefold_operations" ADD COLUMN IF NOT EXISTS owner       BYTEA       NOT NULL DEFAULT ''::bytea;
ALTER TABLE "statefold_operations" ADD COLUMN IF NOT EXISTS owner_token BIGINT      NOT NULL DEFAULT 0;
ALTER TABLE "statefold_operations" ADD COLUMN IF NOT EXISTS owner_until TIMESTAMPTZ NULL;
ALTER TABLE "statefold_operations" ADD COLUMN IF NOT EXISTS released_at TIMESTAMPTZ NULL;
ALTER TABLE "statefold_operations" ADD COLUMN IF NOT EXISTS projected_version BIGINT NOT NULL DEFAULT 0;

-- The schema version (Store.Check reads it), written last.
CREATE TABLE IF NOT EXISTS "statefold_schema" (
  id      SMALLINT NOT NULL,
  version BIGINT   NOT NULL,
  PRIMARY KEY (id)
);

INSERT INTO "statefold_schema" AS s (id, version) VALUES (1, 2)
  ON CONFLICT (id) DO UPDATE SET version = GREATEST(s.version, EXCLUDED.version);
