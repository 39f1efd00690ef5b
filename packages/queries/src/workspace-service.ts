import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type Database,
  idSchema,
  ids,
  type NewWorkspace,
  newWorkspaceSchema,
  type WorkspaceRow,
} from '@hive/schema'
import type { Kysely } from 'kysely'

export interface Workspace {
  readonly id: string
  readonly name: string
  readonly rootPath: string
  readonly createdAt: number
  readonly updatedAt: number
}

const workspaceId = idSchema('workspace')

const toWorkspace = (row: WorkspaceRow): Workspace => ({
  id: row.id,
  name: row.name,
  rootPath: row.root_path,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

/** Workspaces: the repositories Hive manages. */
export class WorkspaceService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  /** Adds a workspace; a root path may belong to one workspace only (`CONFLICT`). */
  async create(input: NewWorkspace): Promise<Workspace> {
    const workspace = parseInput(newWorkspaceSchema, input, 'workspace')
    const now = this.#now()
    const row = {
      id: workspace.id ?? ids.workspace(),
      name: workspace.name,
      root_path: workspace.rootPath,
      created_at: now,
      updated_at: now,
    }
    try {
      await this.#db.insertInto('workspaces').values(row).execute()
    } catch (error) {
      if ((error as { code?: string }).code === 'CONFLICT') {
        throw new HiveStorageError('CONFLICT', `a workspace for ${workspace.rootPath} exists already`, {
          value: workspace.rootPath,
          cause: error,
        })
      }
      throw error
    }
    return toWorkspace(row)
  }

  async get(id: string): Promise<Workspace> {
    parseInput(workspaceId, id, 'workspace id')
    const row = await this.#db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no workspace ${id}`, { value: id })
    return toWorkspace(row)
  }

  async findByPath(rootPath: string): Promise<Workspace | undefined> {
    const row = await this.#db
      .selectFrom('workspaces')
      .selectAll()
      .where('root_path', '=', rootPath)
      .executeTakeFirst()
    return row ? toWorkspace(row) : undefined
  }

  async list(): Promise<Workspace[]> {
    return (await this.#db.selectFrom('workspaces').selectAll().orderBy('name').execute()).map(toWorkspace)
  }
}
