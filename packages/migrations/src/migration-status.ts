import { HiveStorageError } from '@hive/errors'
import type { Migration } from './migration.js'
import type { AppliedMigration } from './migration-history.js'

/**
 * Where one migration stands: `applied`; `pending` (known, not applied); `modified` (applied,
 * but its source changed since); `missing` (applied, but gone from the code); `newer` (applied
 * by a newer version of Hive than this one).
 */
export type MigrationState = 'applied' | 'pending' | 'modified' | 'missing' | 'newer'

export interface MigrationStatusEntry {
  readonly name: string
  readonly state: MigrationState
  /** The checksum of the code's version (null when the code does not have it). */
  readonly checksum: string | null
  /** The checksum recorded when it was applied (null when pending). */
  readonly appliedChecksum: string | null
  readonly appliedAt: number | null
  readonly durationMs: number | null
}

export interface MigrationStatus {
  /** The last applied migration, or null for an empty database. */
  readonly current: string | null
  /** The last migration this code knows. */
  readonly latest: string | null
  readonly entries: readonly MigrationStatusEntry[]
  readonly pending: readonly string[]
  /** Why the migrator would refuse to run now (modified, missing, newer…); empty when it may. */
  readonly problems: readonly HiveStorageError[]
}

/** Compares the code's migrations with the recorded history. Pure: reads nothing. */
export function compareMigrations(
  migrations: readonly Migration[],
  applied: readonly AppliedMigration[],
  foreignTables = 0,
): MigrationStatus {
  const known = new Map(migrations.map((migration) => [migration.name, migration]))
  const recorded = new Map(applied.map((row) => [row.name, row]))
  const latest = migrations.at(-1)?.name ?? null
  const names = [...new Set([...known.keys(), ...recorded.keys()])].sort()
  const entries: MigrationStatusEntry[] = names.map((name) => {
    const migration = known.get(name)
    const row = recorded.get(name)
    const state: MigrationState =
      row === undefined
        ? 'pending'
        : migration === undefined
          ? latest === null || name > latest
            ? 'newer'
            : 'missing'
          : migration.checksum === row.checksum
            ? 'applied'
            : 'modified'
    return {
      name,
      state,
      checksum: migration?.checksum ?? null,
      appliedChecksum: row?.checksum ?? null,
      appliedAt: row?.appliedAt ?? null,
      durationMs: row?.durationMs ?? null,
    }
  })

  const problems: HiveStorageError[] = []
  if (applied.length === 0 && foreignTables > 0) {
    problems.push(
      new HiveStorageError(
        'NOT_A_HIVE_DATABASE',
        `the database has ${foreignTables} table(s) but no Hive migration history: it is not a Hive database`,
      ),
    )
  }
  const newer = entries.filter((entry) => entry.state === 'newer').map((entry) => entry.name)
  if (newer.length > 0) {
    problems.push(
      new HiveStorageError(
        'DATABASE_TOO_NEW',
        `the database was migrated by a newer Hive: ${newer.join(', ')} ${newer.length === 1 ? 'is' : 'are'} applied but unknown to this version (latest known: ${latest ?? 'none'}); upgrade Hive to use it`,
        { value: newer },
      ),
    )
  }
  for (const entry of entries) {
    if (entry.state === 'modified') {
      problems.push(
        new HiveStorageError(
          'MIGRATION_MODIFIED',
          `applied migration ${entry.name} was modified since it was applied (checksum ${entry.appliedChecksum?.slice(0, 12)} → ${entry.checksum?.slice(0, 12)}); restore the original or re-baseline`,
          { value: entry.name },
        ),
      )
    }
    if (entry.state === 'missing') {
      problems.push(
        new HiveStorageError(
          'MIGRATION_MISSING',
          `applied migration ${entry.name} is missing from this version of Hive; restore it or re-baseline`,
          { value: entry.name },
        ),
      )
    }
  }
  const lastApplied = entries.filter((entry) => entry.state !== 'pending').at(-1)?.name ?? null
  const pending = entries.filter((entry) => entry.state === 'pending').map((entry) => entry.name)
  const early = pending.filter((name) => lastApplied !== null && name < lastApplied)
  if (early.length > 0) {
    problems.push(
      new HiveStorageError(
        'CONFLICT',
        `migration ${early.join(', ')} is pending but sorts before ${lastApplied}, which is applied; rename it to come last`,
        { value: early },
      ),
    )
  }
  return { current: lastApplied, latest, entries, pending, problems }
}
