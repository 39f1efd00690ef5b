import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Database, LeaseRow } from '@hive/schema'
import type { SqliteDatabase } from '@hive/sqlite'

/**
 * A named lease in the database: at most one holder at a time across processes. The holder
 * renews it (heartbeat); a holder that dies stops renewing, the lease expires, and another
 * process takes it over.
 */
export class Lease {
  readonly name: string
  /** This holder's id: unique per process and lease object. */
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  readonly #database: SqliteDatabase<Database>
  readonly #ttlMs: number
  readonly #now: () => number

  constructor(config: {
    database: SqliteDatabase<Database>
    name: string
    ttlMs: number
    now?: () => number
  }) {
    this.name = config.name
    this.#database = config.database
    this.#ttlMs = config.ttlMs
    this.#now = config.now ?? Date.now
  }

  /** Takes the lease, or renews it when held; false while another holder's lease is valid. */
  async acquire(): Promise<boolean> {
    return this.#database.writeTransaction(() => {
      const now = this.#now()
      const current = this.current()
      if (current && current.holder !== this.holder && current.expires_at > now) return false
      this.#database.sqlite
        .prepare(
          `INSERT INTO leases (name, holder, pid, host, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
             acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
             heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
        )
        .run(this.name, this.holder, process.pid, hostname(), now, now, now + this.#ttlMs)
      return true
    })
  }

  /** Gives the lease up (if held), so that another process need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.#database.closed) return
    await this.#database.writeTransaction(() => {
      this.#database.sqlite
        .prepare('DELETE FROM leases WHERE name = ? AND holder = ?')
        .run(this.name, this.holder)
    })
  }

  /** Who holds it now (expired or not), if anyone. */
  current(): LeaseRow | undefined {
    return this.#database.sqlite.prepare('SELECT * FROM leases WHERE name = ?').get(this.name) as
      | LeaseRow
      | undefined
  }
}
