import { z } from 'zod'
import { searchKindSchema } from '../enums.js'

/**
 * A row of the `search` FTS5 index. Triggers keep it in step with `cells`, `plans`, `parts` and
 * `artifacts`: its rowid is the source row's `rid * 8 + source code`, so a document can be found
 * and removed without a lookup table. `title` and `body` hold the text. `filters` holds one token
 * per filter value, so filters join the MATCH expression exactly: a letter for the field (`k`
 * kind, `c` cell, `w` workspace, `t` cell type), then the value's UTF-8 bytes in lower-case hex,
 * e.g. `k74657874 c63656c6c5f… w77735f… t6d616e75616c`. `kind` is indexed too (as text); the
 * rest are stored as they are, not indexed.
 */
export const searchDocumentRowSchema = z.object({
  title: z.string().nullable(),
  body: z.string().nullable(),
  kind: searchKindSchema,
  filters: z.string(),
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
