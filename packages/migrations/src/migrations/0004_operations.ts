// Operations and the maintenance lease. Like every migration, frozen once released.
//
// Every long operation (migrate, retention, gc, vacuum, export, import, check, backup, and the
// maintenance runner's tasks) keeps a row here while it runs, with its progress and a heartbeat,
// so that another process can show it; when it ends, the row keeps its outcome, figures or typed
// error. One maintenance runner works per data directory: it holds the lease row and renews it.
// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import { type Kysely, sql } from 'kysely'

const UP = [
  `CREATE TABLE operations (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    phase         TEXT,
    done          INTEGER CHECK (done >= 0),
    total         INTEGER CHECK (total >= 0),
    bytes         INTEGER CHECK (bytes >= 0),
    pid           INTEGER NOT NULL,
    host          TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    finished_at   INTEGER,
    result        TEXT CHECK (result IS NULL OR json_valid(result)),
    error         TEXT CHECK (error IS NULL OR json_valid(error))
  ) STRICT`,
  'CREATE INDEX operations_kind_started ON operations (kind, started_at)',
  'CREATE INDEX operations_started ON operations (started_at)',
  `CREATE INDEX operations_running ON operations (heartbeat_at) WHERE state = 'running'`,

  `CREATE TABLE leases (
    name          TEXT PRIMARY KEY NOT NULL,
    holder        TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    host          TEXT NOT NULL,
    acquired_at   INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
  ) STRICT`,
]

const DOWN = ['DROP TABLE leases', 'DROP TABLE operations']

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
