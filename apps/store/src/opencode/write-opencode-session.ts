import { isDeepStrictEqual } from 'node:util'
import { HiveStorageError } from '@hive/errors'
import { type ArtifactContentStore, insertEvent, TranscriptService } from '@hive/queries'
import { type Database, ids, type SessionMode, type SessionRow } from '@hive/schema'
import type { Transaction } from 'kysely'
import { plainJson, type ValidTranscript } from './opencode-transcript.js'
import type { WriteScope } from './write-scope.js'

/** The `provider` of sessions that come from OpenCode; their `external_id` is OpenCode's `ses_…` id. */
export const OPENCODE_PROVIDER = 'opencode'

/** How many messages (or parts) of a session were new, changed, or already stored as they are. */
export interface OpencodeCounts {
  readonly added: number
  readonly updated: number
  readonly unchanged: number
}

/** What ingesting one session did. */
export interface OpencodeIngestResult {
  /** OpenCode's session id (`sessions.external_id`). */
  readonly externalId: string
  /** Hive's session id. */
  readonly sessionId: string
  readonly cellId: string
  /** Hive's id of the parent session, for a sub-agent session whose parent is stored. */
  readonly parentSessionId: string | null
  /** `imported`: the session is new; `updated`: something of it changed; `unchanged`: nothing did. */
  readonly outcome: 'imported' | 'updated' | 'unchanged'
  /** The session's own object (title, OpenCode's session fields) differed from the one stored. */
  readonly sessionChanged: boolean
  readonly messages: OpencodeCounts
  readonly parts: OpencodeCounts
}

export interface WriteOpencodeSessionInput {
  readonly cellId: string
  readonly transcript: ValidTranscript
  readonly content: ArtifactContentStore
  readonly now: () => number
}

type Db = Transaction<Database>
type StoredRow = { data: string; artifact_id: string | null }

/** The Hive session that holds OpenCode session `externalId`, if any. */
export async function findOpencodeSession(trx: Db, externalId: string): Promise<SessionRow | undefined> {
  return trx
    .selectFrom('sessions')
    .selectAll()
    .where('provider', '=', OPENCODE_PROVIDER)
    .where('external_id', '=', externalId)
    .executeTakeFirst()
}

/**
 * Writes one validated OpenCode session into a cell, inside `scope`'s transaction: creates the
 * session the first time (linked to its parent session when that is stored in the same cell),
 * then writes only the messages and parts that are new or differ from what is stored. Objects
 * are compared as JSON values, whatever their key order; content that was moved to an artifact
 * is read back to compare. Nothing is deleted: messages OpenCode dropped stay in Hive.
 */
export async function writeOpencodeSession(
  scope: WriteScope,
  input: WriteOpencodeSessionInput,
): Promise<OpencodeIngestResult> {
  const { trx } = scope
  const { session, sessionData, messages } = input.transcript
  const now = input.now
  const cell = await trx.selectFrom('cells').select('id').where('id', '=', input.cellId).executeTakeFirst()
  if (!cell)
    throw new HiveStorageError('NOT_FOUND', `there is no cell ${input.cellId}`, { value: input.cellId })

  let parentSessionId: string | null = null
  if (session.parentID) {
    const parent = await findOpencodeSession(trx, session.parentID)
    if (parent && parent.cell_id !== input.cellId) {
      throw new HiveStorageError(
        'CONFLICT',
        `OpenCode session ${session.id} is a sub-agent session of ${session.parentID}, which is stored in cell ${parent.cell_id}, not ${input.cellId}`,
        { value: { sessionID: session.id, parentID: session.parentID } },
      )
    }
    parentSessionId = parent?.id ?? null
  }

  const existing = await findOpencodeSession(trx, session.id)
  let sessionId: string
  let sessionChanged = false
  if (existing) {
    if (existing.cell_id !== input.cellId) {
      throw new HiveStorageError(
        'CONFLICT',
        `OpenCode session ${session.id} is stored in cell ${existing.cell_id}, not ${input.cellId}`,
        { value: { sessionID: session.id, cellId: existing.cell_id } },
      )
    }
    sessionId = existing.id
    parentSessionId ??= existing.parent_session_id
    const title = session.title
    const same =
      existing.title === title &&
      existing.parent_session_id === parentSessionId &&
      existing.data !== null &&
      isDeepStrictEqual(JSON.parse(existing.data), sessionData)
    if (!same) {
      await trx
        .updateTable('sessions')
        .set({
          title,
          data: JSON.stringify(sessionData),
          parent_session_id: parentSessionId,
          updated_at: now(),
        })
        .where('id', '=', sessionId)
        .execute()
      sessionChanged = true
    }
  } else {
    sessionId = ids.session()
    const at = now()
    await trx
      .insertInto('sessions')
      .values({
        id: sessionId,
        cell_id: input.cellId,
        provider: OPENCODE_PROVIDER,
        external_id: session.id,
        parent_session_id: parentSessionId,
        title: session.title,
        mode: modeOf(input.transcript),
        status: 'idle',
        model: modelOf(input.transcript),
        error: null,
        data: JSON.stringify(sessionData),
        created_at: session.time.created,
        updated_at: at,
        completed_at: null,
      })
      .execute()
    await insertEvent(
      trx,
      {
        cellId: input.cellId,
        sessionId,
        type: 'session.created',
        source: 'system',
        payload: { provider: OPENCODE_PROVIDER, externalId: session.id, imported: true },
      },
      at,
    )
    // Sub-agent sessions stored before their parent get their link now.
    await trx
      .updateTable('sessions')
      .set({ parent_session_id: sessionId })
      .where('provider', '=', OPENCODE_PROVIDER)
      .where('cell_id', '=', input.cellId)
      .where('parent_session_id', 'is', null)
      .where((eb) =>
        eb(eb.fn<string>('json_extract', [eb.ref('data'), eb.val('$.parentID')]), '=', session.id),
      )
      .execute()
  }

  const { storedMessages, storedParts } = await storedRows(trx, sessionId, messages)
  const transcripts = new TranscriptService({
    db: trx,
    content: input.content,
    writer: scope.writer,
    now,
  })
  const ref = { cellId: input.cellId, sessionId }
  const counts = {
    messages: { added: 0, updated: 0, unchanged: 0 },
    parts: { added: 0, updated: 0, unchanged: 0 },
  }
  for (const message of messages) {
    const stored = storedMessages.get(message.info.id)
    if (!stored) {
      await transcripts.append(ref, { info: message.info, parts: [...message.parts] })
      counts.messages.added += 1
      counts.parts.added += message.parts.length
      continue
    }
    const infoChanged = !(await sameAs(stored, message.info, () =>
      transcripts.originalMessage(message.info.id),
    ))
    const write: Array<(typeof message.parts)[number]> = []
    let added = 0
    let updated = 0
    for (const part of message.parts) {
      const storedPart = storedParts.get(part.id)
      if (!storedPart) {
        write.push(part)
        added += 1
      } else if (!(await sameAs(storedPart, part, () => transcripts.originalPart(part.id)))) {
        write.push(part)
        updated += 1
      }
    }
    counts.parts.added += added
    counts.parts.updated += updated
    counts.parts.unchanged += message.parts.length - added - updated
    if (!infoChanged && write.length === 0) {
      counts.messages.unchanged += 1
      continue
    }
    counts.messages.updated += 1
    if (infoChanged || added > 0) {
      // New parts are placed after the message's others, as they would be while it streams.
      await transcripts.append(ref, { info: message.info, parts: [...write] })
    } else {
      for (const part of write) await transcripts.upsertPart(ref, part)
    }
  }
  const changed = sessionChanged || counts.messages.added > 0 || counts.messages.updated > 0
  return {
    externalId: session.id,
    sessionId,
    cellId: input.cellId,
    parentSessionId,
    outcome: existing ? (changed ? 'updated' : 'unchanged') : 'imported',
    sessionChanged,
    messages: counts.messages,
    parts: counts.parts,
  }
}

const CHUNK = 500

/** The stored rows of the incoming messages and of their parts. */
async function storedRows(trx: Db, sessionId: string, messages: ValidTranscript['messages']) {
  const storedMessages = new Map<string, StoredRow>()
  const storedParts = new Map<string, StoredRow>()
  const messageIds = messages.map((m) => m.info.id)
  for (let i = 0; i < messageIds.length; i += CHUNK) {
    const chunk = messageIds.slice(i, i + CHUNK)
    const rows = await trx
      .selectFrom('messages')
      .select(['id', 'session_id', 'data', 'artifact_id'])
      .where('id', 'in', chunk)
      .execute()
    for (const row of rows) {
      if (row.session_id !== sessionId) {
        throw new HiveStorageError(
          'CONFLICT',
          `message ${row.id} is already stored in another session (${row.session_id})`,
          { value: row.id },
        )
      }
      storedMessages.set(row.id, row)
    }
    const parts = await trx
      .selectFrom('parts')
      .select(['id', 'data', 'artifact_id'])
      .where('message_id', 'in', chunk)
      .execute()
    for (const part of parts) storedParts.set(part.id, part)
  }
  return { storedMessages, storedParts }
}

/** Whether the stored object is the incoming one (as JSON values: key order does not matter). */
async function sameAs(
  stored: StoredRow,
  incoming: unknown,
  original: () => Promise<Record<string, unknown>>,
): Promise<boolean> {
  let have: unknown
  if (stored.artifact_id === null) have = JSON.parse(stored.data)
  else {
    try {
      have = await original()
    } catch {
      // Content that cannot be read back (a blob gone missing) is written again.
      return false
    }
  }
  return isDeepStrictEqual(have, plainJson(incoming))
}

function modeOf(transcript: ValidTranscript): SessionMode {
  const first = transcript.messages.find((m) => m.info.role === 'user')?.info as
    | { agent?: unknown }
    | undefined
  return first?.agent === 'plan' ? 'plan' : 'build'
}

/** `provider/model` of the session's first assistant (or user) message. */
function modelOf(transcript: ValidTranscript): string | null {
  for (const { info } of transcript.messages) {
    const provider = info.providerID ?? info.model?.providerID
    const model = info.modelID ?? info.model?.modelID
    if (provider && model) {
      const name = `${provider}/${model}`.replace(/\p{Cc}/gu, ' ').trim()
      return name === '' ? null : name.slice(0, 200)
    }
  }
  return null
}
