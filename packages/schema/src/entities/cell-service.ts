import { z } from 'zod'
import { jsonTextSchema, lineSchema, textSchema, timestampSchema } from '../columns.js'
import { serviceStatusSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `cell_services`: a process or container a cell runs (dev server, database…). */
export const cellServiceRowSchema = z.object({
  id: idSchema('service'),
  cell_id: idSchema('cell'),
  name: z.string(),
  type: z.string(),
  command: z.string().nullable(),
  cwd: z.string().nullable(),
  env: jsonTextSchema,
  port: z.int().nullable(),
  pid: z.int().nullable(),
  status: serviceStatusSchema,
  last_error: z.string().nullable(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
})
export type CellServiceRow = z.infer<typeof cellServiceRowSchema>

/** What a caller passes to define a service of a cell. */
export const newCellServiceSchema = z.object({
  id: idSchema('service').optional(),
  cellId: idSchema('cell'),
  name: lineSchema(200),
  type: lineSchema(50),
  command: textSchema(20_000).nullable().optional(),
  cwd: z.string().max(4096).nullable().optional(),
  env: z.record(z.string().min(1).max(1000), z.string().max(100_000)).optional(),
  port: z.int().min(1).max(65_535).nullable().optional(),
  pid: z.int().positive().nullable().optional(),
  status: serviceStatusSchema.optional(),
  lastError: textSchema(20_000).nullable().optional(),
})
export type NewCellService = z.input<typeof newCellServiceSchema>
