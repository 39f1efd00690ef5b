import type { Compilable, CompiledQuery, QueryResult } from 'kysely'

const SENTINEL = '\u0000hive-parameter:'

/** What can run a compiled query: a Kysely instance or transaction. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>
}

/**
 * A Kysely query built and compiled once, then run with new parameter values: building and
 * compiling cost microseconds per call, which dominates small queries on hot paths (appending
 * a part, reading a page). `build` receives stand-ins for the named parameters, read one by one
 * (`p.id`; spreading `p` yields nothing); each must be used as a value, not to choose the
 * query's shape.
 *
 * @example
 * ```ts
 * const byId = new PreparedQuery((p: { id: string }) => db.selectFrom('cells').selectAll().where('id', '=', p.id))
 * const { rows } = await byId.execute(db, { id: 'cell_01…' })
 * ```
 */
export class PreparedQuery<P extends Record<string, unknown>, R> {
  readonly #compiled: CompiledQuery<R>
  /** For each compiled parameter: the name it comes from, or undefined for a constant. */
  readonly #names: ReadonlyArray<string | undefined>

  constructor(build: (parameters: P) => Compilable<R>) {
    const standIns = new Proxy({} as P, { get: (_target, name) => `${SENTINEL}${String(name)}` })
    this.#compiled = build(standIns).compile()
    this.#names = this.#compiled.parameters.map((p) =>
      typeof p === 'string' && p.startsWith(SENTINEL) ? p.slice(SENTINEL.length) : undefined,
    )
  }

  get sql(): string {
    return this.#compiled.sql
  }

  /** The compiled query with these values, e.g. for `EXPLAIN QUERY PLAN`. */
  with(parameters: P): CompiledQuery<R> {
    const constants = this.#compiled.parameters
    const values = this.#names.map((name, i) => {
      if (name === undefined) return constants[i]
      const value = parameters[name]
      if (value === undefined) throw new TypeError(`prepared query: no value for ${name}`)
      return value
    })
    return { ...this.#compiled, parameters: values }
  }

  execute(executor: QueryExecutor, parameters: P): Promise<QueryResult<R>> {
    return executor.executeQuery(this.with(parameters))
  }
}
