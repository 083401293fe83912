-- statefold MySQL 8.0+ / MariaDB 10.6+ schema, version 2.
--
-- These statements create this release's tables where none exist and
-- record the schema version Store.Check requires; every statement is
-- idempotent. mysql.Schema(...) returns them with your table prefix (in
-- place of "statefold_") for DBAs who run their own migrations; apply them,
-- then call Store.Check. mysql.Migrate runs them too, recording the
-- version last.
--
-- Design (see the package documentation):
--   * keys are VARBINARY(255): compared byte for byte, never case-folded or
--     space-padded by a collation;
--   * every primary key leads with the partition key (queue, or apply id), and
--     there are no secondary indexes: every statement is a primary-key point
--     or prefix access, so each table can be sharded by its first column;
--   * times are DATETIME(6) holding UTC wall-clock values; NULL = zero time;
--   * version is the compare-and-swap counter (1 after create).
--
-- Upgrading v0.1.0's tables (schema version 1: no statefold_schema table,
-- and an operations table without the last six columns below): run
-- mysql.Migrate, or apply mysql.SchemaFrom(1, ...), which is these ALTERs
-- followed by this file (the default prefix shown):
--   ALTER TABLE `statefold_operations` ADD COLUMN projected BOOLEAN NOT NULL DEFAULT FALSE;
--   ALTER TABLE `statefold_operations` ADD COLUMN owner VARBINARY(255) NOT NULL DEFAULT '';
--   ALTER TABLE `statefold_operations` ADD COLUMN owner_token BIGINT NOT NULL DEFAULT 0;
--   ALTER TABLE `statefold_operations` ADD COLUMN owner_until DATETIME(6) NULL;
--   ALTER TABLE `statefold_operations` ADD COLUMN released_at DATETIME(6) NULL;
--   ALTER TABLE `statefold_operations` ADD COLUMN projected_version BIGINT NOT NULL DEFAULT 0;
-- On a table that has some of them (a Migrate that stopped half-way, or
-- tables of a pre-release build without projected_version), run
-- mysql.Migrate, which skips the columns that exist. Rows written before
-- the upgrade read with the new fields zero.

CREATE TABLE IF NOT EXISTS `statefold_batches` (
  queue      VARBINARY(255) NOT NULL,
  id         VARBINARY(255) NOT NULL,
  state      VARBINARY(255) NOT NULL,
  version    BIGINT         NOT NULL,
  payload    MEDIUMBLOB     NOT NULL,
  created_at DATETIME(6)    NULL,
  updated_at DATETIME(6)    NULL,
  PRIMARY KEY (queue, id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS `statefold_members` (
  queue      VARBINARY(255) NOT NULL,
  state      VARBINARY(255) NOT NULL,
  batch_id   VARBINARY(255) NOT NULL,
  version    BIGINT         NOT NULL,
  added_at   DATETIME(6)    NULL,
  PRIMARY KEY (queue, state, batch_id)
) ENGINE=InnoDB;

-- The procedure behind Store.MoveBatch (a Transition into a state that is
-- not final): the upsert of the index row that AddMember runs and, only
-- if it wrote the row, the compare-and-swap that UpdateBatch runs, in one
-- round trip: two autocommit statements, not a transaction. It answers one
-- row: whether the index row was written, whether the batch moved. Its
-- parameters are named apart from every column (a routine's variables win
-- over columns). Migrate replaces it; the DELIMITER lines are for tools
-- that split a script on ";", as the mysql client does.
DROP PROCEDURE IF EXISTS `statefold_move_batch`;

DELIMITER //
CREATE PROCEDURE `statefold_move_batch`(
  IN q VARBINARY(255), IN s VARBINARY(255), IN i VARBINARY(255), IN v BIGINT, IN added DATETIME(6),
  IN p MEDIUMBLOB, IN created DATETIME(6), IN updated DATETIME(6), IN ev BIGINT, IN es VARBINARY(255))
  MODIFIES SQL DATA
  SQL SECURITY INVOKER
BEGIN
  DO LAST_INSERT_ID(0);
  INSERT INTO `statefold_members` (queue, state, batch_id, version, added_at) VALUES (q, s, i, v, added)
    ON DUPLICATE KEY UPDATE
    added_at = IF(VALUES(version) >= version, VALUES(added_at), added_at),
    version = IF(VALUES(version) >= version, VALUES(version), LAST_INSERT_ID(version));
  IF LAST_INSERT_ID() = 0 THEN
    UPDATE `statefold_batches` SET state = s, payload = p, created_at = created, updated_at = updated, version = version + 1
      WHERE queue = q AND id = i AND version = ev AND state = es;
    SELECT TRUE, ROW_COUNT() > 0;
  ELSE
    SELECT FALSE, FALSE;
  END IF;
END //
DELIMITER ;

CREATE TABLE IF NOT EXISTS `statefold_applies` (
  id             VARBINARY(255) NOT NULL,
  state          VARBINARY(255) NOT NULL,
  error_message  BLOB           NOT NULL,
  stop_requested BOOLEAN        NOT NULL,
  pause_released BOOLEAN        NOT NULL,
  started_at     DATETIME(6)    NULL,
  completed_at   DATETIME(6)    NULL,
  payload        MEDIUMBLOB     NOT NULL,
  version        BIGINT         NOT NULL,
  created_at     DATETIME(6)    NULL,
  updated_at     DATETIME(6)    NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS `statefold_operations` (
  apply_id      VARBINARY(255) NOT NULL,
  id            VARBINARY(255) NOT NULL,
  seq           BIGINT         NOT NULL,
  deployment    VARBINARY(255) NOT NULL,
  op_group      VARBINARY(255) NOT NULL,
  finalizer     BOOLEAN        NOT NULL,
  state         VARBINARY(255) NOT NULL,
  on_failure    VARBINARY(255) NOT NULL,
  error_message BLOB           NOT NULL,
  started_at    DATETIME(6)    NULL,
  completed_at  DATETIME(6)    NULL,
  payload       MEDIUMBLOB     NOT NULL,
  version       BIGINT         NOT NULL,
  created_at    DATETIME(6)    NULL,
  updated_at    DATETIME(6)    NULL,
  projected     BOOLEAN        NOT NULL DEFAULT FALSE,
  owner         VARBINARY(255) NOT NULL DEFAULT '',
  owner_token   BIGINT         NOT NULL DEFAULT 0,
  owner_until   DATETIME(6)    NULL,
  released_at   DATETIME(6)    NULL,
  projected_version BIGINT     NOT NULL DEFAULT 0,
  PRIMARY KEY (apply_id, id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS `statefold_schema` (
  id      TINYINT NOT NULL,
  version BIGINT  NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;

INSERT INTO `statefold_schema` (id, version) VALUES (1, 2)
  ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version));
