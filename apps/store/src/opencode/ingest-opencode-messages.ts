import { parseInput } from '@hive/errors'
import { idSchema } from '@hive/schema'
import type { HiveStore } from '../store.js'
import { type OpencodeMessage, type OpencodeSession, validateTranscript } from './opencode-transcript.js'
import { type OpencodeIngestResult, writeOpencodeSession } from './write-opencode-session.js'
import { inWriteScope } from './write-scope.js'

/** What OpenCode ingestion needs of a store. */
export type OpencodeTargetStore = Pick<HiveStore, 'database' | 'blobs' | 'invalidateCaches'>

export interface IngestOpencodeMessagesOptions {
  /** The cell the session belongs to. */
  readonly cellId: string
  /** OpenCode's session object (`client.session.get()`): at least `id`, `title`, `time.created`. */
  readonly session: OpencodeSession
  /** What `client.session.messages()` returns: `{ info, parts }[]`, oldest first. */
  readonly messages: readonly OpencodeMessage[]
  readonly now?: () => number
}

const cellIdSchema = idSchema('cell')

/**
 * Ingests one OpenCode session, as its SDK returns it, into a cell: the session is created on
 * first ingestion (keyed by OpenCode's id as its external id, and linked to its parent session
 * when it is a sub-agent session whose parent is stored in the same cell); then new and changed
 * messages and parts are written, and unchanged ones are left alone, so ingesting the same
 * session again writes nothing. Everything is validated first and written in one transaction:
 * a session is ingested whole or not at all. Large tool outputs go to the blob store as the
 * transcript service does for live sessions.
 *
 * Throws `INVALID_INPUT` for a malformed session, message or part (naming it), `NOT_FOUND` for
 * an unknown cell, `CONFLICT` when the session is stored in another cell.
 *
 * @example
 * ```ts
 * const messages = (await client.session.messages({ path: { id } })).data
 * const session = (await client.session.get({ path: { id } })).data
 * const result = await ingestOpencodeMessages(store, { cellId, session, messages })
 * result.outcome // 'imported' | 'updated' | 'unchanged'
 * ```
 *
 * `importOpencode` reads whole OpenCode data directories.
 */
export async function ingestOpencodeMessages(
  store: OpencodeTargetStore,
  options: IngestOpencodeMessagesOptions,
): Promise<OpencodeIngestResult> {
  const cellId = parseInput(cellIdSchema, options?.cellId, 'cell id')
  const transcript = validateTranscript({ session: options.session, messages: options.messages })
  const result = await inWriteScope(store.database, (scope) =>
    writeOpencodeSession(scope, {
      cellId,
      transcript,
      content: store.blobs,
      now: options.now ?? Date.now,
    }),
  )
  if (result.outcome !== 'unchanged') store.invalidateCaches()
  return result
}
