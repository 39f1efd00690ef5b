import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type Database,
  idSchema,
  ids,
  type MessageRow,
  type MessageState,
  type PartRow,
  timestampSchema,
} from '@hive/schema'
import { type Kysely, sql } from 'kysely'
import { z } from 'zod'
import type { ArtifactContentStore } from './artifact-content-store.js'
import { artifactRowQueries, type insertArtifactRows } from './artifact-service.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { PreparedQuery } from './prepared.js'
import { type CutPlan, planCut, valueAt, withReplaced } from './spill.js'
import { runWrite, type SyncWriter, type WriteSteps } from './sync-writer.js'
import { TranscriptMessage, TranscriptPart } from './transcript-record.js'

/** Which cell and session a message belongs to: checked on every write. */
export interface TranscriptRef {
  readonly cellId: string
  readonly sessionId: string
}

const count = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** OpenCode's message object (`UserMessage | AssistantMessage`): what Hive reads of it; the rest is kept as is. */
export const messageInfoSchema = z
  .object({
    id: idSchema('message'),
    role: z.enum(['user', 'assistant', 'system']),
    time: z.object({ created: timestampSchema, completed: timestampSchema.optional() }).loose(),
    parentID: z.string().max(100).optional(),
    modelID: z.string().max(200).optional(),
    providerID: z.string().max(200).optional(),
    model: z
      .object({ modelID: z.string().max(200).optional(), providerID: z.string().max(200).optional() })
      .loose()
      .optional(),
    tokens: z
      .object({
        input: count.optional(),
        output: count.optional(),
        reasoning: count.optional(),
        cache: z.object({ read: count.optional(), write: count.optional() }).loose().optional(),
      })
      .loose()
      .optional(),
    cost: z.number().nonnegative().finite().optional(),
    error: z.record(z.string(), z.unknown()).optional(),
  })
  .loose()
export type MessageInfo = z.input<typeof messageInfoSchema>

/** OpenCode's part object: id, message, type; the rest is kept as is. */
export const partSchema = z
  .object({
    id: idSchema('part'),
    messageID: idSchema('message'),
    type: z.string().regex(/^[a-z][a-z0-9-]{0,49}$/, 'must be a part type such as text or step-finish'),
  })
  .loose()
export type PartInput = z.input<typeof partSchema>

const appendSchema = z
  .object({ info: messageInfoSchema, parts: z.array(partSchema).max(10_000).default([]) })
  .strict()
  .refine((m) => m.parts.every((part) => part.messageID === m.info.id), {
    message: "every part's messageID must be the message's id",
    path: ['parts'],
  })
export type AppendInput = z.input<typeof appendSchema>

const pageSchema = z
  .object({
    after: z.string().optional(),
    before: z.string().optional(),
    limit: z.int().min(1).max(1000).default(50),
  })
  .strict()
  .refine((p) => p.after === undefined || p.before === undefined, 'give after or before, not both')
export type TranscriptPageQuery = z.input<typeof pageSchema>

export interface TranscriptPage {
  readonly messages: TranscriptMessage[]
  /** Cursor for the messages before this page (pass as `before`), null at the start. */
  readonly previous: string | null
  /** Cursor for the messages after this page (pass as `after`), null at the end. */
  readonly next: string | null
}

export interface TranscriptServiceConfig {
  readonly db: Kysely<Database>
  /** Where tool outputs too large to keep inline go; without one they stay inline. */
  readonly content?: ArtifactContentStore
  /** Tool outputs above this many bytes become artifacts (default 64 KiB). */
  readonly spillBytes?: number
  /** How much of a spilled output stays inline as its preview (default 4 KiB). */
  readonly previewBytes?: number
  /** Runs appends as one synchronous transaction (the store passes its `SqliteDatabase`). */
  readonly writer?: SyncWriter
  /** Where reads run (pages, streams): a read pool keeps them off the event loop; `db` otherwise. */
  readonly readDb?: Kysely<Database>
  readonly now?: () => number
}

/** The largest part or message object kept (after a large tool output moved to an artifact). */
export const MAX_OBJECT_BYTES = 1024 * 1024
/** Searchable text kept per part (the index holds previews, not whole outputs). */
const MAX_SEARCH_TEXT = 32 * 1024
const sessionId = idSchema('session')
const messageId = idSchema('message')
const partIdSchema = idSchema('part')
// Schemas are built once: building one costs more than most of what an append does.
const refSchema = z.object({ cellId: idSchema('cell'), sessionId }).strict()
const tailCount = z.int().min(1).max(1000)
const aroundCount = z.int().min(0).max(500)
const chunkSize = z.int().min(1).max(10_000)

type Db = Kysely<Database>

/**
 * Transcripts of agent sessions, in OpenCode's shape: messages (`info`) and their parts. Each
 * message gets a per-session `seq` on first write; a part written again and again while its
 * message streams stays one row. Reads page by `seq` in both directions, around a message, at
 * the tail, or stream a whole session with bounded memory.
 *
 * @example
 * ```ts
 * await transcripts.append({ cellId, sessionId }, { info, parts })
 * const page = await transcripts.page(sessionId, { limit: 50 })
 * for await (const chunk of transcripts.stream(sessionId)) send(chunk)
 * ```
 */
export class TranscriptService {
  readonly #config: Required<Omit<TranscriptServiceConfig, 'content' | 'writer' | 'readDb'>> & {
    content?: ArtifactContentStore
    writer?: SyncWriter
  }
  /** Reads go here. */
  readonly #read: Kysely<Database>
  readonly #q: ReturnType<typeof prepare>

  constructor(config: TranscriptServiceConfig) {
    this.#config = {
      spillBytes: 64 * 1024,
      previewBytes: 4 * 1024,
      now: Date.now,
      ...config,
    }
    this.#q = prepare(config.db)
    this.#read = config.readDb ?? config.db
  }

  /** Writes a message (new, or an update of one streaming) with its parts, in one transaction. */
  async append(ref: TranscriptRef, input: AppendInput): Promise<void> {
    const m = parseInput(appendSchema, input, 'message')
    this.#checkRef(ref)
    const message = this.#messageRow(ref, m.info)
    const row = message instanceof Promise ? await message : message
    const parts: PendingPart[] = []
    for (const part of m.parts) parts.push(await this.#partRow(ref, part as PartInput, row.created_at))
    await runWrite(() => this.#appendSteps(ref, row, parts), this.#config.writer, this.#config.db)
  }

  /** Writes one message's info (its parts come with {@link TranscriptService.upsertPart}). */
  async upsertMessage(ref: TranscriptRef, info: MessageInfo): Promise<void> {
    await this.append(ref, { info, parts: [] })
  }

  /** Writes one part of an existing message: the first write places it, later ones update it. */
  async upsertPart(ref: TranscriptRef, input: PartInput): Promise<void> {
    const part = parseInput(partSchema, input, 'part')
    this.#checkRef(ref)
    const row = await this.#partRow(ref, part, this.#config.now())
    await runWrite(() => this.#partSteps(ref, part.messageID, row), this.#config.writer, this.#config.db)
  }

  /** One message with its parts. */
  async getMessage(id: string): Promise<TranscriptMessage> {
    parseInput(messageId, id, 'message id')
    const row = (await this.#q.messageById.execute(this.#read, { id })).rows[0]
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no message ${id}`, { value: id })
    return (await this.#withParts(row.session_id, [row]))[0] as TranscriptMessage
  }

  /**
   * A part exactly as it was last written: strings that were moved to an artifact are read back
   * from the content store (hash-verified) and put in place of their previews.
   */
  async originalPart(id: string): Promise<Record<string, unknown>> {
    parseInput(partIdSchema, id, 'part id')
    const row = await this.#read
      .selectFrom('parts')
      .leftJoin('artifacts', 'artifacts.id', 'parts.artifact_id')
      .select(['parts.data', 'parts.artifact_id', 'artifacts.blob_hash', 'artifacts.content_type'])
      .where('parts.id', '=', id)
      .executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no part ${id}`, { value: id })
    const part = JSON.parse(row.data) as Record<string, unknown>
    if (row.artifact_id === null || row.blob_hash === null) return part
    const text = await this.#spilledText(row.blob_hash, row.content_type ?? '', `part ${id}`)
    if (row.content_type?.startsWith('application/json')) return JSON.parse(text) as Record<string, unknown>
    // A tool's output alone was moved.
    return { ...part, state: { ...(part.state as Record<string, unknown>), output: text } }
  }

  /** A message's info exactly as it was last written (see {@link TranscriptService.originalPart}). */
  async originalMessage(id: string): Promise<Record<string, unknown>> {
    parseInput(messageId, id, 'message id')
    const row = await this.#read
      .selectFrom('messages')
      .leftJoin('artifacts', 'artifacts.id', 'messages.artifact_id')
      .select(['messages.data', 'artifacts.blob_hash', 'artifacts.content_type'])
      .where('messages.id', '=', id)
      .executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no message ${id}`, { value: id })
    if (row.blob_hash === null) return JSON.parse(row.data) as Record<string, unknown>
    return JSON.parse(
      await this.#spilledText(row.blob_hash, row.content_type ?? '', `message ${id}`),
    ) as Record<string, unknown>
  }

  async #spilledText(hash: string, contentType: string, what: string): Promise<string> {
    const content = this.#config.content
    if (!content) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `${what} has content in the content store, and this service was given none`,
      )
    }
    const opened = await content.open(hash, { verify: true, contentType })
    return (await opened.buffer()).toString('utf8')
  }

  /** A page of a session's messages from the start, or after / before a cursor. */
  async page(session: string, query: TranscriptPageQuery = {}): Promise<TranscriptPage> {
    parseInput(sessionId, session, 'session id')
    const q = parseInput(pageSchema, query, 'transcript page query')
    let rows: MessageRow[]
    if (q.before !== undefined) {
      const seq = decodeCursor(q.before, ['number'], `transcript:${session}`)[0] as number
      rows = (
        await this.#q.before.execute(this.#read, { sessionId: session, seq, limit: q.limit + 1 })
      ).rows.reverse()
      const more = rows.length > q.limit
      if (more) rows = rows.slice(1)
      // Nothing before: the way back is the page the cursor came from.
      if (rows.length === 0) return { messages: [], previous: null, next: this.#cursor(session, seq - 1) }
      return this.#pageOf(session, rows, more, true)
    }
    const seq =
      q.after === undefined ? -1 : (decodeCursor(q.after, ['number'], `transcript:${session}`)[0] as number)
    rows = (await this.#q.after.execute(this.#read, { sessionId: session, seq, limit: q.limit + 1 })).rows
    const more = rows.length > q.limit
    if (more) rows = rows.slice(0, q.limit)
    // Nothing (yet) after: the way back is the page before this point; `after` again waits for more.
    if (rows.length === 0 && seq >= 0)
      return { messages: [], previous: this.#cursor(session, seq + 1), next: q.after ?? null }
    return this.#pageOf(session, rows, seq >= 0 ? true : undefined, more)
  }

  /** The last `n` messages of a session, oldest first. */
  async tail(session: string, n = 50): Promise<TranscriptPage> {
    parseInput(sessionId, session, 'session id')
    const limit = parseInput(tailCount, n, 'count')
    const rows = (
      await this.#q.before.execute(this.#read, {
        sessionId: session,
        seq: Number.MAX_SAFE_INTEGER,
        limit: limit + 1,
      })
    ).rows.reverse()
    const more = rows.length > limit
    return this.#pageOf(session, more ? rows.slice(1) : rows, more, false)
  }

  /** The message `id` with up to `n` messages before and after it. */
  async around(id: string, n = 10): Promise<TranscriptPage> {
    parseInput(messageId, id, 'message id')
    const limit = parseInput(aroundCount, n, 'count')
    const center = (await this.#q.messageById.execute(this.#read, { id })).rows[0]
    if (!center) throw new HiveStorageError('NOT_FOUND', `there is no message ${id}`, { value: id })
    const session = center.session_id
    const before = (
      await this.#q.before.execute(this.#read, { sessionId: session, seq: center.seq, limit: limit + 1 })
    ).rows.reverse()
    const after = (
      await this.#q.after.execute(this.#read, { sessionId: session, seq: center.seq, limit: limit + 1 })
    ).rows
    const moreBefore = before.length > limit
    const moreAfter = after.length > limit
    const rows = [
      ...(moreBefore ? before.slice(1) : before),
      center,
      ...(moreAfter ? after.slice(0, limit) : after),
    ]
    return this.#pageOf(session, rows, moreBefore, moreAfter)
  }

  /**
   * A whole session, oldest first, in chunks of `chunkSize` messages (default 100, with their
   * parts): one page query per chunk, so memory holds one chunk at a time, however long the
   * session, and (on a read pool) the event loop does one chunk's work at a time. Messages
   * appended while it runs are included when the stream reaches them.
   */
  async *stream(session: string, options: { chunkSize?: number } = {}): AsyncGenerator<TranscriptMessage[]> {
    parseInput(sessionId, session, 'session id')
    const limit = parseInput(chunkSize, options.chunkSize ?? 100, 'chunk size')
    let seq = -1
    for (;;) {
      const rows = (await this.#q.after.execute(this.#read, { sessionId: session, seq, limit })).rows
      if (rows.length === 0) return
      yield await this.#withParts(session, rows)
      if (rows.length < limit) return
      seq = (rows.at(-1) as MessageRow).seq
    }
  }

  // ---- internals ----

  async #pageOf(
    session: string,
    rows: MessageRow[],
    hasBefore: boolean | undefined,
    hasAfter: boolean,
  ): Promise<TranscriptPage> {
    const messages = await this.#withParts(session, rows)
    const first = rows[0]
    const last = rows.at(-1)
    const previous = first && (hasBefore ?? first.seq > 0) ? this.#cursor(session, first.seq) : null
    return { messages, previous, next: last && hasAfter ? this.#cursor(session, last.seq) : null }
  }

  async #withParts(session: string, rows: MessageRow[]): Promise<TranscriptMessage[]> {
    const first = rows[0]
    const last = rows.at(-1)
    if (!first || !last) return []
    const parts = (
      await this.#q.partsBetween.execute(this.#read, {
        sessionId: session,
        from: first.seq,
        to: last.seq,
      })
    ).rows
    const byMessage = new Map<string, TranscriptPart[]>()
    for (const part of parts) {
      const list = byMessage.get(part.message_id)
      if (list) list.push(new TranscriptPart(part))
      else byMessage.set(part.message_id, [new TranscriptPart(part)])
    }
    return rows.map((row) => new TranscriptMessage(row, byMessage.get(row.id) ?? []))
  }

  #cursor(session: string, seq: number): string {
    return encodeCursor([seq], `transcript:${session}`)
  }

  #checkRef(ref: TranscriptRef): void {
    parseInput(refSchema, ref, 'transcript reference')
  }

  *#appendSteps(ref: TranscriptRef, message: PendingMessage, parts: PendingPart[]): WriteSteps<void> {
    yield* this.#sessionSteps(ref)
    const { spilled, ...row } = message
    let link: string | undefined
    if (spilled) {
      const previous = (yield this.#q.messageArtifact.with({ id: row.id })).rows[0] as
        | { id: string; blob_hash: string; content_type: string }
        | undefined
      if (previous && previous.blob_hash === spilled.row.blob_hash) {
        // The same info spilled again keeps its artifact and id.
        row.data = row.data.replaceAll(spilled.row.id, previous.id)
        row.artifact_id = previous.id
      } else {
        // The artifact names its message: the message row comes first, then the link to it.
        row.artifact_id = null
        link = spilled.row.id
      }
    }
    // An artifact the message no longer names is deleted by the schema (its content goes to gc).
    const result = yield this.#q.upsertMessage.with(row)
    if (Number(result.numAffectedRows ?? 0n) === 0) {
      throw new HiveStorageError('CONFLICT', `message ${row.id} belongs to another session`, {
        value: row.id,
      })
    }
    if (spilled && link) {
      for (const query of artifactRowQueries(this.#config.db, spilled.row, spilled.encoding)) yield query
      yield this.#q.linkMessageArtifact.with({ id: row.id, artifactId: link })
    }
    for (const part of parts) yield* this.#upsertPartSteps(part)
  }

  *#partSteps(ref: TranscriptRef, message: string, part: PendingPart): WriteSteps<void> {
    yield* this.#sessionSteps(ref)
    const owner = (
      (yield this.#q.messageSession.with({ id: message })).rows[0] as { session_id: string } | undefined
    )?.session_id
    if (owner === undefined)
      throw new HiveStorageError('NOT_FOUND', `there is no message ${message}`, { value: message })
    if (owner !== ref.sessionId) {
      throw new HiveStorageError(
        'CONFLICT',
        `message ${message} belongs to session ${owner}, not ${ref.sessionId}`,
        { value: message },
      )
    }
    yield* this.#upsertPartSteps(part)
  }

  /** The session must exist and belong to the cell named. */
  *#sessionSteps(ref: TranscriptRef): WriteSteps<void> {
    const owner = (
      (yield this.#q.sessionCell.with({ id: ref.sessionId })).rows[0] as { cell_id: string } | undefined
    )?.cell_id
    if (owner === undefined)
      throw new HiveStorageError('NOT_FOUND', `there is no session ${ref.sessionId}`, {
        value: ref.sessionId,
      })
    if (owner !== ref.cellId) {
      throw new HiveStorageError(
        'CONFLICT',
        `session ${ref.sessionId} belongs to cell ${owner}, not ${ref.cellId}`,
        { value: ref },
      )
    }
  }

  *#upsertPartSteps(row: PendingPart): WriteSteps<void> {
    const { spilled, ...part } = row
    if (spilled) {
      // The same content spilled again (a part rewritten as it streams) keeps its artifact and id.
      const previous = (yield this.#q.partArtifact.with({ id: part.id })).rows[0] as
        | { id: string; blob_hash: string; content_type: string }
        | undefined
      if (
        previous &&
        previous.blob_hash === spilled.row.blob_hash &&
        previous.content_type === spilled.row.content_type
      ) {
        part.data = part.data.replaceAll(spilled.row.id, previous.id)
        part.artifact_id = previous.id
      } else {
        for (const query of artifactRowQueries(this.#config.db, spilled.row, spilled.encoding)) yield query
      }
    }
    // A part's artifact it no longer names is deleted by the schema (its content goes to gc).
    const result = yield this.#q.upsertPart.with(part)
    if (Number(result.numAffectedRows ?? 0n) === 0) {
      throw new HiveStorageError('CONFLICT', `part ${part.id} belongs to another message`, { value: part.id })
    }
  }

  /** A message's row; as a part's, large strings go to an artifact first (whole info as JSON). */
  #messageRow(ref: TranscriptRef, info: MessageInfoOutput): PendingMessage | Promise<PendingMessage> {
    const now = this.#config.now()
    const content = this.#config.content
    const data = JSON.stringify(info)
    if (content) {
      const bytes = data.length * 3 > MAX_OBJECT_BYTES ? Buffer.byteLength(data) : data.length
      const plan = planCut(info, bytes, {
        spillBytes: this.#config.spillBytes,
        previewBytes: this.#config.previewBytes,
        maxBytes: MAX_OBJECT_BYTES,
      })
      if (plan) return this.#spillMessage(ref, info, plan, content, now)
    }
    return { ...messageRow(info, ref.sessionId, now, data), artifact_id: null, spilled: undefined }
  }

  async #spillMessage(
    ref: TranscriptRef,
    info: MessageInfoOutput,
    plan: CutPlan,
    content: ArtifactContentStore,
    now: number,
  ): Promise<PendingMessage> {
    await this.#requireSession(ref)
    const stored = await content.put(JSON.stringify(info), {
      name: 'message.json',
      contentType: 'application/json',
    })
    const artifactId = ids.artifact()
    const cutInfo = this.#cutStrings(info, plan, artifactId) as MessageInfoOutput
    return {
      ...messageRow(cutInfo, ref.sessionId, now),
      artifact_id: artifactId,
      spilled: {
        row: {
          id: artifactId,
          cell_id: ref.cellId,
          session_id: ref.sessionId,
          message_id: info.id,
          type: 'other',
          name: `${info.role} message (${info.id})`,
          content_type: stored.contentType,
          blob_hash: stored.hash,
          size: stored.size,
          stored_size: stored.storedSize,
          status: 'available',
          summary: null,
          created_at: now,
          expires_at: null,
        },
        encoding: stored.encoding,
      },
    }
  }

  /** `object` with each planned string cut to its preview and a note naming the artifact. */
  #cutStrings(object: unknown, plan: CutPlan, artifactId: string): unknown {
    return withReplaced(
      object,
      plan.strings.map(({ path, bytes }) => {
        const preview = cut(valueAt(object, path) as string, this.#config.previewBytes)
        const note = `\n… [${bytes - Buffer.byteLength(preview)} more bytes in artifact ${artifactId}]`
        return [path, `${preview}${note}`]
      }),
    )
  }

  /**
   * A part's row. Strings too large to keep inline (over the spill size, or the largest ones of a
   * part whose JSON would be over {@link MAX_OBJECT_BYTES}) go to the content store first, leaving
   * a preview and a note naming the artifact; only then is this asynchronous.
   */
  #partRow(ref: TranscriptRef, part: PartInput, fallbackTime: number): PendingPart | Promise<PendingPart> {
    const content = this.#config.content
    const data = JSON.stringify(part)
    if (content) {
      // A lower bound of its size is enough below the limit; the exact one only near it.
      const bytes = data.length * 3 > MAX_OBJECT_BYTES ? Buffer.byteLength(data) : data.length
      const plan = planCut(part, bytes, {
        spillBytes: this.#config.spillBytes,
        previewBytes: this.#config.previewBytes,
        maxBytes: MAX_OBJECT_BYTES,
      })
      if (plan) return this.#spill(ref, part, plan, content, fallbackTime)
    }
    return this.#finishPart(part, null, undefined, fallbackTime, data)
  }

  /**
   * Moves a part's large strings to one artifact: a tool's output alone as text (a log that can
   * be served as it is); anything else as the whole part, JSON, exactly as written.
   */
  async #spill(
    ref: TranscriptRef,
    part: PartInput,
    plan: CutPlan,
    content: ArtifactContentStore,
    fallbackTime: number,
  ): Promise<PendingPart> {
    // Content for a part that cannot be written would be left to gc: check first.
    await this.#requireSession(ref)
    const object = part as Record<string, unknown>
    const tool = String(object.tool ?? 'tool')
    const [first] = plan.strings
    const outputOnly =
      part.type === 'tool' &&
      plan.strings.length === 1 &&
      first?.path.length === 2 &&
      first.path[0] === 'state' &&
      first.path[1] === 'output'
    const stored = outputOnly
      ? await content.put(valueAt(object, ['state', 'output']) as string, {
          name: `${tool}-output.txt`,
          contentType: 'text/plain; charset=utf-8',
        })
      : await content.put(JSON.stringify(object), {
          name: `${part.type}-part.json`,
          contentType: 'application/json',
        })
    const artifactId = ids.artifact()
    const cutObject = this.#cutStrings(object, plan, artifactId) as PartInput
    const title = (object.state as { title?: unknown } | undefined)?.title
    const row = {
      id: artifactId,
      cell_id: ref.cellId,
      session_id: ref.sessionId,
      message_id: part.messageID,
      type: outputOnly ? ('log' as const) : ('other' as const),
      name: outputOnly ? `${tool} output (${part.id})` : `${part.type} part (${part.id})`,
      content_type: stored.contentType,
      blob_hash: stored.hash,
      size: stored.size,
      stored_size: stored.storedSize,
      status: 'available' as const,
      // The preview is searchable in the part already: the artifact is found by its name and title.
      summary: typeof title === 'string' ? cut(title, 500) : null,
      created_at: this.#config.now(),
      expires_at: null,
    }
    return this.#finishPart(cutObject, artifactId, { row, encoding: stored.encoding }, fallbackTime)
  }

  async #requireSession(ref: TranscriptRef): Promise<void> {
    const owner = (await this.#q.sessionCell.execute(this.#config.db, { id: ref.sessionId })).rows[0]
    if (owner === undefined)
      throw new HiveStorageError('NOT_FOUND', `there is no session ${ref.sessionId}`, {
        value: ref.sessionId,
      })
  }

  #finishPart(
    part: PartInput,
    artifactId: string | null,
    spilled: PendingPart['spilled'],
    fallbackTime: number,
    data = JSON.stringify(part),
  ): PendingPart {
    const object = part as Record<string, unknown>
    if (Buffer.byteLength(data) > MAX_OBJECT_BYTES) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `part ${part.id} is larger than ${MAX_OBJECT_BYTES} bytes`,
        { value: part.id },
      )
    }
    const time = (object.time as { start?: unknown } | undefined)?.start
    return {
      id: part.id,
      message_id: part.messageID,
      type: part.type,
      data,
      text: searchText(object),
      artifact_id: artifactId,
      created_at: typeof time === 'number' && Number.isSafeInteger(time) && time >= 0 ? time : fallbackTime,
      updated_at: this.#config.now(),
      spilled,
    }
  }
}

interface Spilled {
  readonly row: Parameters<typeof insertArtifactRows>[1]
  readonly encoding: 'lz4-frames' | 'raw'
}
type PendingPart = Omit<PartRow, 'rid' | 'seq'> & { spilled: Spilled | undefined }
type PendingMessage = Omit<MessageRow, 'seq'> & { spilled: Spilled | undefined }
type MessageInfoOutput = z.output<typeof messageInfoSchema>

function messageRow(
  info: MessageInfoOutput,
  session: string,
  now: number,
  data = JSON.stringify(info),
): Omit<MessageRow, 'seq' | 'artifact_id'> {
  if (Buffer.byteLength(data) > MAX_OBJECT_BYTES) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `message ${info.id} is larger than ${MAX_OBJECT_BYTES} bytes`,
      { value: info.id },
    )
  }
  const state: MessageState = info.error
    ? 'error'
    : info.role !== 'assistant' || info.time.completed !== undefined
      ? 'completed'
      : 'streaming'
  return {
    id: info.id,
    session_id: session,
    role: info.role,
    parent_id: info.parentID ?? null,
    state,
    model_id: info.modelID ?? info.model?.modelID ?? null,
    provider_id: info.providerID ?? info.model?.providerID ?? null,
    tokens_input: info.tokens?.input ?? 0,
    tokens_output: info.tokens?.output ?? 0,
    tokens_reasoning: info.tokens?.reasoning ?? 0,
    tokens_cache_read: info.tokens?.cache?.read ?? 0,
    tokens_cache_write: info.tokens?.cache?.write ?? 0,
    cost: info.cost ?? 0,
    error: info.error ? JSON.stringify(info.error) : null,
    data,
    created_at: info.time.created,
    updated_at: now,
    completed_at: info.time.completed ?? null,
  }
}

/** What of a part the search index holds. */
function searchText(part: Record<string, unknown>): string | null {
  const str = (value: unknown) => (typeof value === 'string' ? value : '')
  let text = ''
  switch (part.type) {
    case 'text':
    case 'reasoning':
      text = str(part.text)
      break
    case 'tool': {
      const state = (part.state ?? {}) as Record<string, unknown>
      text = [str(part.tool), str(state.title), str(state.output), str(state.error)]
        .filter(Boolean)
        .join('\n')
      break
    }
    case 'file': {
      const source = (part.source ?? {}) as Record<string, unknown>
      text = [str(part.filename), str(source.path)].filter(Boolean).join('\n')
      break
    }
    case 'subtask':
      text = [str(part.description), str(part.prompt)].filter(Boolean).join('\n')
      break
    case 'agent':
      text = str(part.name)
      break
    case 'patch':
      text = Array.isArray(part.files)
        ? part.files.filter((f): f is string => typeof f === 'string').join('\n')
        : ''
      break
  }
  return text === '' ? null : cut(text, MAX_SEARCH_TEXT)
}

/** The first `bytes` bytes of a string, not splitting a character. */
function cut(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text
  return Buffer.from(text)
    .subarray(0, bytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '')
}

function prepare(db: Db) {
  return {
    sessionCell: new PreparedQuery((p: { id: string }) =>
      db.selectFrom('sessions').select('cell_id').where('id', '=', p.id),
    ),
    messageSession: new PreparedQuery((p: { id: string }) =>
      db.selectFrom('messages').select('session_id').where('id', '=', p.id),
    ),
    partArtifact: new PreparedQuery((p: { id: string }) =>
      db
        .selectFrom('parts')
        .innerJoin('artifacts', 'artifacts.id', 'parts.artifact_id')
        .select(['artifacts.id', 'artifacts.blob_hash', 'artifacts.content_type'])
        .where('parts.id', '=', p.id),
    ),
    messageArtifact: new PreparedQuery((p: { id: string }) =>
      db
        .selectFrom('messages')
        .innerJoin('artifacts', 'artifacts.id', 'messages.artifact_id')
        .select(['artifacts.id', 'artifacts.blob_hash', 'artifacts.content_type'])
        .where('messages.id', '=', p.id),
    ),
    linkMessageArtifact: new PreparedQuery((p: { id: string; artifactId: string }) =>
      db.updateTable('messages').set({ artifact_id: p.artifactId }).where('id', '=', p.id),
    ),
    messageById: new PreparedQuery((p: { id: string }) =>
      db.selectFrom('messages').selectAll().where('id', '=', p.id),
    ),
    upsertMessage: new PreparedQuery((p: Omit<MessageRow, 'seq'>) =>
      db
        .insertInto('messages')
        .values({
          id: p.id,
          session_id: p.session_id,
          role: p.role,
          parent_id: p.parent_id,
          state: p.state,
          model_id: p.model_id,
          provider_id: p.provider_id,
          tokens_input: p.tokens_input,
          tokens_output: p.tokens_output,
          tokens_reasoning: p.tokens_reasoning,
          tokens_cache_read: p.tokens_cache_read,
          tokens_cache_write: p.tokens_cache_write,
          cost: p.cost,
          error: p.error,
          data: p.data,
          created_at: p.created_at,
          updated_at: p.updated_at,
          completed_at: p.completed_at,
          artifact_id: p.artifact_id,
          seq: sql<number>`(SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_id = ${p.session_id})`,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({
              role: eb.ref('excluded.role'),
              parent_id: eb.ref('excluded.parent_id'),
              state: eb.ref('excluded.state'),
              model_id: eb.ref('excluded.model_id'),
              provider_id: eb.ref('excluded.provider_id'),
              tokens_input: eb.ref('excluded.tokens_input'),
              tokens_output: eb.ref('excluded.tokens_output'),
              tokens_reasoning: eb.ref('excluded.tokens_reasoning'),
              tokens_cache_read: eb.ref('excluded.tokens_cache_read'),
              tokens_cache_write: eb.ref('excluded.tokens_cache_write'),
              cost: eb.ref('excluded.cost'),
              error: eb.ref('excluded.error'),
              data: eb.ref('excluded.data'),
              updated_at: eb.ref('excluded.updated_at'),
              completed_at: eb.ref('excluded.completed_at'),
              artifact_id: eb.ref('excluded.artifact_id'),
            }))
            .where((eb) => eb('messages.session_id', '=', eb.ref('excluded.session_id'))),
        ),
    ),
    upsertPart: new PreparedQuery((p: Omit<PartRow, 'rid' | 'seq'>) =>
      db
        .insertInto('parts')
        .values({
          id: p.id,
          message_id: p.message_id,
          type: p.type,
          data: p.data,
          text: p.text,
          artifact_id: p.artifact_id,
          created_at: p.created_at,
          updated_at: p.updated_at,
          seq: sql<number>`(SELECT coalesce(max(seq), -1) + 1 FROM parts WHERE message_id = ${p.message_id})`,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({
              type: eb.ref('excluded.type'),
              data: eb.ref('excluded.data'),
              text: eb.ref('excluded.text'),
              artifact_id: eb.ref('excluded.artifact_id'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where((eb) => eb('parts.message_id', '=', eb.ref('excluded.message_id'))),
        ),
    ),
    after: new PreparedQuery((p: { sessionId: string; seq: number; limit: number }) =>
      db
        .selectFrom('messages')
        .selectAll()
        .where('session_id', '=', p.sessionId)
        .where('seq', '>', p.seq)
        .orderBy('seq')
        .limit(p.limit),
    ),
    before: new PreparedQuery((p: { sessionId: string; seq: number; limit: number }) =>
      db
        .selectFrom('messages')
        .selectAll()
        .where('session_id', '=', p.sessionId)
        .where('seq', '<', p.seq)
        .orderBy('seq', 'desc')
        .limit(p.limit),
    ),
    partsBetween: new PreparedQuery((p: { sessionId: string; from: number; to: number }) =>
      db
        .selectFrom('parts')
        .select([
          'id',
          'message_id',
          'seq',
          'type',
          'data',
          'text',
          'artifact_id',
          'created_at',
          'updated_at',
        ])
        .where('message_id', 'in', (eb) =>
          eb
            .selectFrom('messages')
            .select('id')
            .where('session_id', '=', p.sessionId)
            .where('seq', '>=', p.from)
            .where('seq', '<=', p.to),
        )
        .orderBy('message_id')
        .orderBy('seq'),
    ),
  }
}
