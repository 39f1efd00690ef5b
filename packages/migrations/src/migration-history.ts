// biome-ignore-all lint/suspicious/noExplicitAny: the history lives beside whatever schema exists.
import { type Kysely, sql } from 'kysely'

/** The table that records applied migrations. */
export const HISTORY_TABLE = 'hive_migrations'

/** One applied migration as recorded. */
export interface AppliedMigration {
  readonly name: string
  readonly checksum: string
  readonly appliedAt: number
  readonly durationMs: number
}

export async function historyExists(db: Kysely<any>): Promise<boolean> {
  const { rows } = await sql<{
    n: number
  }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${HISTORY_TABLE}`.execute(db)
  return (rows[0]?.n ?? 0) > 0
}

/** Tables other than SQLite's own and the history: a database with some but no history is not ours. */
export async function countUserTables(db: Kysely<any>): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master
    WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ${HISTORY_TABLE}`.execute(db)
  return rows[0]?.n ?? 0
}

export async function createHistory(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS hive_migrations (
    name         TEXT PRIMARY KEY NOT NULL,
    checksum     TEXT NOT NULL,
    applied_at   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL
  ) STRICT`.execute(db)
}

export async function readHistory(db: Kysely<any>): Promise<AppliedMigration[]> {
  if (!(await historyExists(db))) return []
  const { rows } = await sql<{ name: string; checksum: string; applied_at: number; duration_ms: number }>`
    SELECT name, checksum, applied_at, duration_ms FROM hive_migrations ORDER BY name`.execute(db)
  return rows.map((row) => ({
    name: row.name,
    checksum: row.checksum,
    appliedAt: row.applied_at,
    durationMs: row.duration_ms,
  }))
}

export async function recordApplied(db: Kysely<any>, migration: AppliedMigration): Promise<void> {
  await sql`INSERT INTO hive_migrations (name, checksum, applied_at, duration_ms)
    VALUES (${migration.name}, ${migration.checksum}, ${migration.appliedAt}, ${migration.durationMs})`.execute(
    db,
  )
}

export async function recordReverted(db: Kysely<any>, name: string): Promise<void> {
  await sql`DELETE FROM hive_migrations WHERE name = ${name}`.execute(db)
}

export async function recordChecksum(db: Kysely<any>, name: string, checksum: string): Promise<void> {
  await sql`UPDATE hive_migrations SET checksum = ${checksum} WHERE name = ${name}`.execute(db)
}
