import { z } from 'zod'
import { searchKindSchema } from '../enums.js'

/**
 * A row of the `search` FTS5 index. Triggers keep it in step with `cells`, `plans`, `parts` and
 * `artifacts`: its rowid is the source row's `rid * 8 + source code`, so a document can be found
 * and removed without a lookup table. `title` and `body` hold the text; `kind`, `cell_id`,
 * `workspace_id` and `cell_type` are indexed so filters join the MATCH expression; the rest are
 * stored but not indexed.
 */
export const searchDocumentRowSchema = z.object({
  title: z.string().nullable(),
  body: z.string().nullable(),
  kind: searchKindSchema,
  cell_id: z.string(),
  workspace_id: z.string(),
  cell_type: z.string(),
  session_id: z.string().nullable(),
  ref_id: z.string(),
  created_at: z.int(),
})
export type SearchDocumentRow = z.infer<typeof searchDocumentRowSchema>

/** The source tables of search documents and their codes in the rowid (`rid * 8 + code`). */
export const SEARCH_SOURCE_CODES = { cells: 1, plans: 2, parts: 3, artifacts: 4 } as const
