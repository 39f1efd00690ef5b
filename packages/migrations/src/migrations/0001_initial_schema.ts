// The complete schema of Hive storage, version 1. A migration is frozen once released: its
// checksum is recorded when applied, and any change to this file is reported as a modification.
// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import { type Kysely, sql } from 'kysely'

const CELL_STATUSES = `'draft', 'provisioning', 'active', 'awaiting_input', 'reviewing', 'completed', 'parked', 'archived', 'error'`
const EVENT_SOURCES = `'agent', 'human', 'system', 'service'`

// Search documents: rowid = source rid * 8 + source code (cells 1, plans 2, parts 3, artifacts 4).
// Insert triggers clear their rowid first: a REPLACE run without recursive_triggers (another
// tool's connection) skips the delete triggers, and a reused rid must not collide with what
// that left behind. Hive's own connections turn recursive_triggers on, so REPLACE stays exact.
// The kind, cell, workspace and type columns are indexed so that filters join the MATCH
// expression; user text must therefore be confined to {title body} by the query layer.
const SEARCH_COLUMNS =
  'rowid, title, body, kind, cell_id, workspace_id, cell_type, session_id, ref_id, created_at'

const UP = [
  `CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    root_path   TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
  ) STRICT`,

  `CREATE TABLE cells (
    rid                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id),
    name                 TEXT NOT NULL,
    description          TEXT,
    type                 TEXT NOT NULL CHECK (type IN ('implementation', 'planning', 'manual')),
    status               TEXT NOT NULL CHECK (status IN (${CELL_STATUSES})),
    template_id          TEXT,
    workspace_path       TEXT,
    branch_name          TEXT,
    base_commit          TEXT,
    opencode_session_id  TEXT,
    last_setup_error     TEXT,
    metadata             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    completed_at         INTEGER,
    archived_at          INTEGER
  ) STRICT`,
  'CREATE INDEX cells_workspace_status_updated ON cells (workspace_id, status, updated_at, id)',
  'CREATE INDEX cells_workspace_updated ON cells (workspace_id, updated_at, id)',
  'CREATE INDEX cells_status_updated ON cells (status, updated_at, id)',
  'CREATE INDEX cells_updated ON cells (updated_at, id)',
  'CREATE INDEX cells_workspace_created ON cells (workspace_id, created_at, id)',
  'CREATE INDEX cells_created ON cells (created_at, id)',
  // The search index files a cell's documents under its workspace and type: both are fixed.
  `CREATE TRIGGER cells_fixed_columns BEFORE UPDATE OF workspace_id, type ON cells
   WHEN new.workspace_id IS NOT old.workspace_id OR new.type IS NOT old.type
   BEGIN SELECT RAISE(ABORT, 'a cell''s workspace_id and type cannot change'); END`,

  `CREATE TABLE cell_provisioning (
    cell_id               TEXT PRIMARY KEY NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    attempt_count         INTEGER NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    start_mode            TEXT NOT NULL DEFAULT 'build' CHECK (start_mode IN ('plan', 'build')),
    model_id_override     TEXT,
    provider_id_override  TEXT,
    last_error            TEXT,
    started_at            INTEGER,
    finished_at           INTEGER,
    updated_at            INTEGER NOT NULL
  ) STRICT`,

  `CREATE TABLE cell_services (
    id          TEXT PRIMARY KEY NOT NULL,
    cell_id     TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    command     TEXT,
    cwd         TEXT,
    env         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(env)),
    port        INTEGER CHECK (port BETWEEN 1 AND 65535),
    pid         INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('stopped', 'starting', 'running', 'needs_resume', 'error')),
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (cell_id, name)
  ) STRICT`,

  `CREATE TABLE cell_links (
    from_cell_id  TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    to_cell_id    TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    type          TEXT NOT NULL CHECK (type IN ('plans', 'spawned_from', 'depends_on', 'related')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (from_cell_id, to_cell_id, type),
    CHECK (from_cell_id <> to_cell_id)
  ) STRICT, WITHOUT ROWID`,
  'CREATE INDEX cell_links_to ON cell_links (to_cell_id, type)',

  `CREATE TABLE plans (
    rid         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    cell_id     TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version > 0),
    content     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'awaiting_approval', 'approved', 'rejected', 'superseded')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (cell_id, version)
  ) STRICT`,

  `CREATE TABLE plan_feedback (
    id          TEXT PRIMARY KEY NOT NULL,
    plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    source      TEXT NOT NULL CHECK (source IN (${EVENT_SOURCES})),
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
  ) STRICT`,
  'CREATE INDEX plan_feedback_plan_created ON plan_feedback (plan_id, created_at)',

  `CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    cell_id            TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    provider           TEXT NOT NULL,
    external_id        TEXT,
    parent_session_id  TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    title              TEXT,
    mode               TEXT NOT NULL CHECK (mode IN ('plan', 'build')),
    status             TEXT NOT NULL CHECK (status IN ('active', 'idle', 'completed', 'error', 'aborted')),
    model              TEXT,
    error              TEXT CHECK (error IS NULL OR json_valid(error)),
    data               TEXT CHECK (data IS NULL OR json_valid(data)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    UNIQUE (provider, external_id)
  ) STRICT`,
  'CREATE INDEX sessions_cell_created ON sessions (cell_id, created_at)',
  'CREATE INDEX sessions_parent ON sessions (parent_session_id) WHERE parent_session_id IS NOT NULL',

  `CREATE TABLE messages (
    id                  TEXT PRIMARY KEY NOT NULL,
    session_id          TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL CHECK (seq >= 0),
    role                TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    parent_id           TEXT,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'streaming', 'completed', 'error')),
    model_id            TEXT,
    provider_id         TEXT,
    tokens_input        INTEGER NOT NULL DEFAULT 0 CHECK (tokens_input >= 0),
    tokens_output       INTEGER NOT NULL DEFAULT 0 CHECK (tokens_output >= 0),
    tokens_reasoning    INTEGER NOT NULL DEFAULT 0 CHECK (tokens_reasoning >= 0),
    tokens_cache_read   INTEGER NOT NULL DEFAULT 0 CHECK (tokens_cache_read >= 0),
    tokens_cache_write  INTEGER NOT NULL DEFAULT 0 CHECK (tokens_cache_write >= 0),
    cost                REAL NOT NULL DEFAULT 0 CHECK (cost >= 0),
    error               TEXT CHECK (error IS NULL OR json_valid(error)),
    data                TEXT NOT NULL CHECK (json_valid(data)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    completed_at        INTEGER,
    UNIQUE (session_id, seq)
  ) STRICT`,

  `CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),
    size         INTEGER NOT NULL CHECK (size >= 0),
    stored_size  INTEGER NOT NULL CHECK (stored_size >= 0),
    encoding     TEXT NOT NULL CHECK (encoding IN ('lz4-frames', 'raw')),
    created_at   INTEGER NOT NULL,
    verified_at  INTEGER
  ) STRICT, WITHOUT ROWID`,

  `CREATE TABLE artifacts (
    rid           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    cell_id       TEXT NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    session_id    TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    message_id    TEXT REFERENCES messages (id) ON DELETE SET NULL,
    type          TEXT NOT NULL CHECK (type IN ('log', 'diff', 'transcript', 'file', 'plan', 'other')),
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    blob_hash     TEXT NOT NULL REFERENCES blobs (hash),
    size          INTEGER NOT NULL CHECK (size >= 0),
    stored_size   INTEGER NOT NULL CHECK (stored_size >= 0),
    status        TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'missing')),
    summary       TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER
  ) STRICT`,
  'CREATE INDEX artifacts_cell_type_created ON artifacts (cell_id, type, created_at, id)',
  'CREATE INDEX artifacts_cell_created ON artifacts (cell_id, created_at, id)',
  'CREATE INDEX artifacts_session ON artifacts (session_id) WHERE session_id IS NOT NULL',
  'CREATE INDEX artifacts_message ON artifacts (message_id) WHERE message_id IS NOT NULL',
  'CREATE INDEX artifacts_blob ON artifacts (blob_hash)',
  'CREATE INDEX artifacts_expires ON artifacts (expires_at) WHERE expires_at IS NOT NULL',

  `CREATE TABLE parts (
    rid          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    message_id   TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL CHECK (seq >= 0),
    type         TEXT NOT NULL,
    data         TEXT NOT NULL CHECK (json_valid(data)),
    text         TEXT,
    artifact_id  TEXT REFERENCES artifacts (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (message_id, seq)
  ) STRICT`,
  'CREATE INDEX parts_artifact ON parts (artifact_id) WHERE artifact_id IS NOT NULL',

  `CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    cell_id     TEXT REFERENCES cells (id) ON DELETE CASCADE,
    session_id  TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    type        TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN (${EVENT_SOURCES})),
    payload     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    created_at  INTEGER NOT NULL
  ) STRICT`,
  'CREATE INDEX events_cell_created ON events (cell_id, created_at, id)',
  'CREATE INDEX events_type_created ON events (type, created_at, id)',
  'CREATE INDEX events_session_created ON events (session_id, created_at, id) WHERE session_id IS NOT NULL',
  'CREATE INDEX events_created ON events (created_at, id)',

  // Metrics outlive their cell (analytics keep the sample, the cell link becomes NULL).
  `CREATE TABLE metrics (
    id          TEXT PRIMARY KEY NOT NULL,
    cell_id     TEXT REFERENCES cells (id) ON DELETE SET NULL,
    session_id  TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    name        TEXT NOT NULL,
    value       REAL NOT NULL,
    unit        TEXT,
    tags        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tags)),
    created_at  INTEGER NOT NULL
  ) STRICT`,
  'CREATE INDEX metrics_name_created ON metrics (name, created_at)',
  'CREATE INDEX metrics_cell_name ON metrics (cell_id, name) WHERE cell_id IS NOT NULL',
  'CREATE INDEX metrics_session ON metrics (session_id) WHERE session_id IS NOT NULL',

  `CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL CHECK (json_valid(value)),
    updated_at  INTEGER NOT NULL
  ) STRICT`,

  `CREATE VIRTUAL TABLE search USING fts5 (
    title, body, kind, cell_id, workspace_id, cell_type,
    session_id UNINDEXED, ref_id UNINDEXED, created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  )`,

  `CREATE TRIGGER cells_search_insert AFTER INSERT ON cells BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 1;
    INSERT INTO search (${SEARCH_COLUMNS})
    VALUES (new.rid * 8 + 1, new.name, new.description, 'cell', new.id, new.workspace_id, new.type, NULL, new.id, new.created_at);
  END`,
  `CREATE TRIGGER cells_search_update AFTER UPDATE OF name, description ON cells
   WHEN new.name IS NOT old.name OR new.description IS NOT old.description BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
    INSERT INTO search (${SEARCH_COLUMNS})
    VALUES (new.rid * 8 + 1, new.name, new.description, 'cell', new.id, new.workspace_id, new.type, NULL, new.id, new.created_at);
  END`,
  `CREATE TRIGGER cells_search_delete AFTER DELETE ON cells BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
  END`,

  `CREATE TRIGGER plans_search_insert AFTER INSERT ON plans BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 2;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 2, 'Plan v' || new.version, new.content, 'plan', c.id, c.workspace_id, c.type, NULL, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_update AFTER UPDATE OF content, version ON plans
   WHEN new.content IS NOT old.content OR new.version IS NOT old.version BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 2, 'Plan v' || new.version, new.content, 'plan', c.id, c.workspace_id, c.type, NULL, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_delete AFTER DELETE ON plans BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
  END`,

  `CREATE TRIGGER parts_search_insert AFTER INSERT ON parts WHEN new.text IS NOT NULL AND new.text <> '' BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 3;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 3, NULL, new.text,
      CASE WHEN new.type IN ('text', 'reasoning', 'tool') THEN new.type ELSE 'other' END,
      c.id, c.workspace_id, c.type, s.id, new.id, new.created_at
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id;
  END`,
  `CREATE TRIGGER parts_search_update AFTER UPDATE OF text ON parts WHEN new.text IS NOT old.text BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 3, NULL, new.text,
      CASE WHEN new.type IN ('text', 'reasoning', 'tool') THEN new.type ELSE 'other' END,
      c.id, c.workspace_id, c.type, s.id, new.id, new.created_at
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id AND new.text IS NOT NULL AND new.text <> '';
  END`,
  `CREATE TRIGGER parts_search_delete AFTER DELETE ON parts WHEN old.text IS NOT NULL AND old.text <> '' BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
  END`,

  `CREATE TRIGGER artifacts_search_insert AFTER INSERT ON artifacts BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 4;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 4, new.name, new.summary, 'artifact', c.id, c.workspace_id, c.type, new.session_id, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_update AFTER UPDATE OF name, summary, session_id ON artifacts
   WHEN new.name IS NOT old.name OR new.summary IS NOT old.summary OR new.session_id IS NOT old.session_id BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 4, new.name, new.summary, 'artifact', c.id, c.workspace_id, c.type, new.session_id, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_delete AFTER DELETE ON artifacts BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
  END`,
]

const DOWN = [
  'DROP TABLE search',
  'DROP TABLE settings',
  'DROP TABLE metrics',
  'DROP TABLE events',
  'DROP TABLE parts',
  'DROP TABLE artifacts',
  'DROP TABLE blobs',
  'DROP TABLE messages',
  'DROP TABLE sessions',
  'DROP TABLE plan_feedback',
  'DROP TABLE plans',
  'DROP TABLE cell_links',
  'DROP TABLE cell_services',
  'DROP TABLE cell_provisioning',
  'DROP TABLE cells',
  'DROP TABLE workspaces',
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
