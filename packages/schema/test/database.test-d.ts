// Type-level tests, checked by `pnpm typecheck`: the Database interface works with Kysely.
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely'
import { expectTypeOf } from 'vitest'
import type { CellRow, Database, PartRow, TableName } from '../src/index.js'

declare const db: Kysely<Database>

// rid is generated: optional on insert, a number on select.
expectTypeOf<Insertable<Database['parts']>>().toHaveProperty('rid').toEqualTypeOf<number | undefined>()
expectTypeOf<Selectable<Database['parts']>>().toEqualTypeOf<PartRow>()
expectTypeOf<Selectable<Database['cells']>['status']>().toEqualTypeOf<CellRow['status']>()
expectTypeOf<Updateable<Database['cells']>['metadata']>().toEqualTypeOf<string | undefined>()

const query = db.selectFrom('cells').select(['id', 'status']).where('workspace_id', '=', 'ws_x')
expectTypeOf<Awaited<ReturnType<typeof query.executeTakeFirstOrThrow>>>().toEqualTypeOf<{
  id: string
  status: CellRow['status']
}>()

// Every table of the runtime schema is in the Kysely interface, and nothing else.
expectTypeOf<keyof Database>().toEqualTypeOf<TableName>()
