import type BetterSqlite3 from 'better-sqlite3'

export interface StatementCacheStats {
  /** Statements held now. */
  readonly size: number
  readonly capacity: number
  readonly hits: number
  readonly misses: number
  readonly evictions: number
}

/**
 * Prepared statements by SQL text, least recently used evicted first. Kysely's SQLite driver
 * prepares every query again; preparing is most of the cost of a point query, so the dialect
 * asks this cache instead.
 */
export class StatementCache {
  readonly #database: BetterSqlite3.Database
  readonly #capacity: number
  readonly #statements = new Map<string, BetterSqlite3.Statement>()
  #hits = 0
  #misses = 0
  #evictions = 0

  constructor(database: BetterSqlite3.Database, capacity: number) {
    this.#database = database
    this.#capacity = capacity
  }

  /** A prepared statement for `sql`: the cached one unless it is busy iterating. */
  get(sql: string): BetterSqlite3.Statement {
    const cached = this.#statements.get(sql)
    if (cached !== undefined && !cached.busy) {
      this.#hits += 1
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.#statements.delete(sql)
      this.#statements.set(sql, cached)
      return cached
    }
    this.#misses += 1
    const statement = this.#database.prepare(sql)
    if (cached !== undefined || this.#capacity === 0) return statement
    this.#statements.set(sql, statement)
    if (this.#statements.size > this.#capacity) {
      const oldest = this.#statements.keys().next().value as string
      this.#statements.delete(oldest)
      this.#evictions += 1
    }
    return statement
  }

  /** Drops every statement (after a schema change, statements re-prepare themselves anyway). */
  clear(): void {
    this.#statements.clear()
  }

  stats(): StatementCacheStats {
    return {
      size: this.#statements.size,
      capacity: this.#capacity,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    }
  }
}
