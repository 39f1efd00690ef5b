import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { HiveStorageError } from '@hive/errors'
import { type SnapshotResult, snapshotDatabase } from '@hive/sqlite'

/** Why a snapshot was taken; each kind keeps its own last N. */
export type SnapshotKind = 'pre-migrate' | 'pre-restore' | 'manual'

export interface SnapshotInfo {
  /** The file name inside the snapshots directory, e.g. `20261126T051011123Z-pre-migrate-0001_initial_schema.db`. */
  readonly name: string
  readonly path: string
  readonly kind: SnapshotKind
  /** When it was taken (ms since the epoch), from its name. */
  readonly takenAt: number
  /** The last migration applied in the snapshot (`empty` for none). */
  readonly version: string
  readonly bytes: number
}

const NAME = /^(\d{8}T\d{9}Z)-(pre-migrate|pre-restore|manual)-([a-z0-9_]+)\.db$/

function stamp(time: number): string {
  return new Date(time).toISOString().replace(/[-:.]/g, '')
}

function parseStamp(text: string): number {
  const [, y, mo, d, h, mi, s, ms] = (
    text.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/) ?? []
  ).map(Number)
  return y === undefined ? 0 : Date.UTC(y, (mo ?? 1) - 1, d, h, mi, s, ms)
}

/**
 * The database snapshots of a data directory (`snapshots/`): taken before migrations and
 * restores, named so that they sort by time, pruned to the last N of each kind.
 */
export class SnapshotStore {
  readonly #dir: string
  readonly #now: () => number

  constructor(config: { dir: string; now?: () => number }) {
    this.#dir = config.dir
    this.#now = config.now ?? Date.now
  }

  /** Snapshots the database at `databasePath`; `version` is its last applied migration. */
  take(databasePath: string, kind: SnapshotKind, version: string | null): SnapshotInfo & SnapshotResult {
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    } catch (cause) {
      throw new HiveStorageError(
        'SNAPSHOT_FAILED',
        `cannot create ${this.#dir}: ${(cause as Error).message}`,
        {
          value: this.#dir,
          cause,
        },
      )
    }
    this.#removeLeftovers()
    let time = this.#now()
    const label = version ?? 'empty'
    // Two snapshots in one millisecond would collide: step to the next free name.
    while (this.list().some((s) => s.name === `${stamp(time)}-${kind}-${label}.db`)) time += 1
    const name = `${stamp(time)}-${kind}-${label}.db`
    const result = snapshotDatabase(databasePath, join(this.#dir, name))
    return { ...result, name, kind, takenAt: time, version: label }
  }

  /** Every snapshot, oldest first. */
  list(): SnapshotInfo[] {
    return safeReaddir(this.#dir)
      .flatMap((name) => {
        const match = name.match(NAME)
        if (!match) return []
        try {
          const bytes = statSync(join(this.#dir, name)).size
          return [
            {
              name,
              path: join(this.#dir, name),
              kind: match[2] as SnapshotKind,
              takenAt: parseStamp(match[1] as string),
              version: match[3] as string,
              bytes,
            },
          ]
        } catch {
          return [] // removed meanwhile
        }
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** The snapshot of that name, or the latest of `kind` when no name is given. */
  find(name: string | undefined, kind: SnapshotKind = 'pre-migrate'): SnapshotInfo {
    const all = this.list()
    if (name === undefined) {
      const latest = all.filter((s) => s.kind === kind).at(-1)
      if (!latest)
        throw new HiveStorageError('NOT_FOUND', `there is no ${kind} snapshot in ${this.#dir}`, {
          value: this.#dir,
        })
      return latest
    }
    const found = all.find((s) => s.name === name || s.name === `${name}.db`)
    if (!found) {
      throw new HiveStorageError(
        'UNKNOWN_MIGRATION',
        `there is no snapshot named ${JSON.stringify(name)} in ${this.#dir}`,
        {
          value: name,
        },
      )
    }
    return found
  }

  /**
   * Deletes all but the newest `keep` snapshots of `kind`; returns the names removed. Best
   * effort: a snapshot that cannot be removed stays, and the next prune tries again.
   */
  prune(kind: SnapshotKind, keep: number): string[] {
    const old = this.list().filter((s) => s.kind === kind)
    const removed: string[] = []
    for (const snapshot of old.slice(0, Math.max(0, old.length - keep))) {
      try {
        rmSync(snapshot.path, { force: true })
        removed.push(snapshot.name)
      } catch {
        // Kept; reported by its absence from the result.
      }
    }
    return removed
  }

  /** Temp files of snapshots interrupted by a crash (older than an hour: none is still being written). */
  #removeLeftovers(): void {
    for (const name of safeReaddir(this.#dir)) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue
      const path = join(this.#dir, name)
      try {
        if (statSync(path).mtimeMs < this.#now() - 60 * 60 * 1000) rmSync(path, { force: true })
      } catch {
        // Gone already, or not ours to remove.
      }
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
