import { closeSync, openSync, readSync } from 'node:fs'

/** The connection a {@link CommitWatch} asks: `SqliteDatabase` of `@hive/sqlite` fits. */
export interface WatchedDatabase {
  /** The database file (`:memory:` or '' for none). */
  readonly path: string
  readonly sqlite: { prepare(sql: string): { pluck(): { get(): unknown } } }
}

/** Size of one copy of SQLite's WAL-index header at the start of the `-shm` file. */
const HEADER_BYTES = 48

/**
 * Tells whether another connection (another process, or another connection of this one)
 * committed to the database since it was last asked — cheaply enough to ask before every cache
 * hit.
 *
 * `PRAGMA data_version` is the exact answer: it changes when any other connection commits, and
 * not for this connection's own commits. Asking it costs a statement. So it is asked only when
 * the WAL-index header in the `-shm` file (documented at sqlite.org/walformat.html; every commit
 * rewrites it: frame count, change counter, checksums) differs from the last one seen: one 48-byte
 * read when nothing happened. A header read while a writer rewrites it differs from the last one
 * too, and only costs the exact check. Without a `-shm` file (an in-memory database, or one not in
 * WAL mode), `data_version` is asked every time.
 */
export class CommitWatch {
  readonly #dataVersion: { get(): unknown }
  readonly #shmPath: string | undefined
  #fd: number | undefined
  readonly #header = Buffer.alloc(HEADER_BYTES)
  readonly #seen = Buffer.alloc(HEADER_BYTES)
  #version: unknown
  /** Exact checks made (the header had changed, or there is no header to read). */
  checks = 0

  constructor(database: WatchedDatabase) {
    this.#dataVersion = database.sqlite.prepare('PRAGMA data_version').pluck()
    this.#version = this.#dataVersion.get()
    this.#shmPath = database.path && database.path !== ':memory:' ? `${database.path}-shm` : undefined
    this.#readHeader()
    this.#header.copy(this.#seen)
  }

  /** True when another connection committed since the last call (or since construction). */
  changed(): boolean {
    if (this.#readHeader()) {
      if (this.#header.equals(this.#seen)) return false
      this.#header.copy(this.#seen)
    }
    // The header moved (or cannot be read): the exact check says whether it was someone else.
    this.checks += 1
    const version = this.#dataVersion.get()
    if (version === this.#version) return false
    this.#version = version
    return true
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  /** Reads the header into #header; false when there is no `-shm` file to read. */
  #readHeader(): boolean {
    if (this.#shmPath === undefined) return false
    try {
      this.#fd ??= openSync(this.#shmPath, 'r')
      return readSync(this.#fd, this.#header, 0, HEADER_BYTES, 0) === HEADER_BYTES
    } catch {
      // Not there (yet): fall back to the exact check, and try the file again next time.
      if (this.#fd !== undefined) closeSync(this.#fd)
      this.#fd = undefined
      return false
    }
  }
}
