import { join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { createQueryServices } from '@hive/queries'
import type { Database } from '@hive/schema'
import { openDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'

/** A migrated database with one workspace, the services on it, and a cache in front of them. */
export async function world(dir = tempDir()) {
  const path = join(dir, 'hive.db')
  const database = openDatabase<Database>(path)
  const migrated = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
  if (!migrated.ok) throw migrated.error
  const services = createQueryServices({
    db: database.db,
    content: new BlobStore({ root: join(dir, 'blobs') }),
    writer: database,
  })
  const workspace = await services.workspaces.create({ name: 'hive', rootPath: `/src/${dir}` })
  return { dir, path, database, services, workspace: workspace.id }
}

/** What a call gives: its value as JSON, or its error's code. */
export async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: JSON.parse(JSON.stringify(await call())) }
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) }
  }
}
