import { z } from 'zod'
import { timestampSchema } from '../columns.js'
import { cellLinkTypeSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `cell_links`: a typed edge `from_cell_id → to_cell_id`. */
export const cellLinkRowSchema = z.object({
  from_cell_id: idSchema('cell'),
  to_cell_id: idSchema('cell'),
  type: cellLinkTypeSchema,
  created_at: timestampSchema,
})
export type CellLinkRow = z.infer<typeof cellLinkRowSchema>

/** What a caller passes to link two cells. */
export const newCellLinkSchema = z
  .object({
    fromCellId: idSchema('cell'),
    toCellId: idSchema('cell'),
    type: cellLinkTypeSchema,
  })
  .refine((link) => link.fromCellId !== link.toCellId, 'a cell cannot link to itself')
export type NewCellLink = z.input<typeof newCellLinkSchema>
