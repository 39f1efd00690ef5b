import { HiveStorageError, type ValidationIssue } from '@hive/errors'
import { type MessageInfo, messageInfoSchema, type PartInput, partSchema } from '@hive/queries'
import { idSchema, timestampSchema } from '@hive/schema'
import { z } from 'zod'

/**
 * OpenCode's `Session` object (`session.get`, `storage/session/…`): what Hive reads of it. Every
 * other field is kept as it is in the session's `data`.
 */
export const opencodeSessionSchema = z
  .object({
    id: idSchema('session'),
    title: z.string().max(2000),
    parentID: idSchema('session').nullish(),
    projectID: z.string().max(200).optional(),
    directory: z.string().max(4096).optional(),
    time: z.object({ created: timestampSchema, updated: timestampSchema.optional() }).loose(),
  })
  .loose()

/** An OpenCode session as the SDK returns it (`{ id, title, parentID?, time, … }`). */
export type OpencodeSession = z.input<typeof opencodeSessionSchema>

/** One message of `client.session.messages()`: OpenCode's message object and its parts. */
export interface OpencodeMessage {
  readonly info: MessageInfo
  readonly parts: readonly PartInput[]
}

/** A session with its messages, oldest first: what ingestion takes. */
export interface OpencodeTranscript {
  readonly session: OpencodeSession
  readonly messages: readonly OpencodeMessage[]
}

/** A transcript as read from OpenCode's files, not validated yet. */
export interface RawTranscript {
  readonly session: unknown
  readonly messages: ReadonlyArray<{ readonly info: unknown; readonly parts: readonly unknown[] }>
}

/** A transcript that passed validation: plain JSON objects, safe to store and compare. */
export interface ValidTranscript {
  readonly session: z.output<typeof opencodeSessionSchema>
  /** The session object as it is stored in the session's `data`. */
  readonly sessionData: Record<string, unknown>
  readonly messages: ReadonlyArray<{
    readonly info: MessageInfo & { id: string }
    readonly parts: ReadonlyArray<PartInput & { id: string; messageID: string }>
  }>
}

const MAX_MESSAGES = 100_000

/**
 * Checks a transcript before anything is written: the session, each message and each part
 * against the transcript service's schemas, parts belonging to their message, objects naming
 * the session they are in, ids not repeated. Throws one `INVALID_INPUT` that names the session
 * and the message or part at fault (its `value` holds those ids, not the whole input).
 */
export function validateTranscript(input: OpencodeTranscript | RawTranscript): ValidTranscript {
  if (input === null || typeof input !== 'object') {
    throw new HiveStorageError(
      'INVALID_INPUT',
      'an OpenCode transcript must be an object { session, messages }',
    )
  }
  const rawSession = (input as { session?: unknown }).session
  const sessionResult = opencodeSessionSchema.safeParse(rawSession)
  const label = `session ${describeId(rawSession)}`
  if (!sessionResult.success)
    throw invalid(label, sessionResult.error.issues, { sessionID: idOf(rawSession) })
  const session = sessionResult.data
  const sessionID = session.id
  const messages = (input as { messages?: unknown }).messages
  if (!Array.isArray(messages)) {
    throw new HiveStorageError('INVALID_INPUT', `${label}: messages must be an array of { info, parts }`, {
      value: { sessionID },
    })
  }
  if (messages.length > MAX_MESSAGES) {
    throw new HiveStorageError('INVALID_INPUT', `${label}: more than ${MAX_MESSAGES} messages`, {
      value: { sessionID },
    })
  }
  const seenMessages = new Set<string>()
  const seenParts = new Set<string>()
  const valid: Array<ValidTranscript['messages'][number]> = []
  for (const [index, message] of messages.entries()) {
    if (message === null || typeof message !== 'object' || !('info' in message)) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `${label}: message #${index} is not an { info, parts } object`,
        {
          value: { sessionID, index },
        },
      )
    }
    const info = (message as { info: unknown }).info
    const where = `${label}: message ${describeId(info, `#${index}`)}`
    const infoResult = messageInfoSchema.safeParse(info)
    if (!infoResult.success)
      throw invalid(where, infoResult.error.issues, { sessionID, messageID: idOf(info) })
    const messageID = infoResult.data.id
    const owner = (info as { sessionID?: unknown }).sessionID
    if (owner !== undefined && owner !== sessionID) {
      throw new HiveStorageError('INVALID_INPUT', `${where}: its sessionID is ${String(owner)}`, {
        value: { sessionID, messageID },
      })
    }
    if (seenMessages.has(messageID)) {
      throw new HiveStorageError('INVALID_INPUT', `${where}: the message appears twice`, {
        value: { sessionID, messageID },
      })
    }
    seenMessages.add(messageID)
    const parts = (message as { parts?: unknown }).parts ?? []
    if (!Array.isArray(parts)) {
      throw new HiveStorageError('INVALID_INPUT', `${where}: parts must be an array`, {
        value: { sessionID, messageID },
      })
    }
    for (const [partIndex, part] of parts.entries()) {
      const at = `${where}: part ${describeId(part, `#${partIndex}`)}`
      const partResult = partSchema.safeParse(part)
      if (!partResult.success) {
        throw invalid(at, partResult.error.issues, { sessionID, messageID, partID: idOf(part) })
      }
      const partID = partResult.data.id
      const problem =
        partResult.data.messageID !== messageID
          ? `its messageID is ${partResult.data.messageID}`
          : (part as { sessionID?: unknown }).sessionID !== undefined &&
              (part as { sessionID?: unknown }).sessionID !== sessionID
            ? `its sessionID is ${String((part as { sessionID?: unknown }).sessionID)}`
            : seenParts.has(partID)
              ? 'the part appears twice'
              : undefined
      if (problem) {
        throw new HiveStorageError('INVALID_INPUT', `${at}: ${problem}`, {
          value: { sessionID, messageID, partID },
        })
      }
      seenParts.add(partID)
    }
    valid.push({
      info: info as MessageInfo & { id: string },
      parts: parts as Array<PartInput & { id: string; messageID: string }>,
    })
  }
  return { session, sessionData: plainJson(rawSession) as Record<string, unknown>, messages: valid }
}

/** The value as JSON would carry it (no `undefined`s, no class instances). */
export function plainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value))
}

function idOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id.slice(0, 100) : undefined
}

function describeId(value: unknown, fallback = '(without an id)'): string {
  return idOf(value) ?? fallback
}

function invalid(
  where: string,
  zodIssues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
  value: Record<string, string | undefined>,
): HiveStorageError {
  const issues: ValidationIssue[] = zodIssues.map((issue) => ({
    path: issue.path.filter((key): key is string | number => typeof key !== 'symbol'),
    message: issue.message,
  }))
  const first = issues[0]
  const path = first && first.path.length > 0 ? `${first.path.join('.')}: ` : ''
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
  return new HiveStorageError('INVALID_INPUT', `${where}: ${path}${first?.message ?? 'invalid'}${more}`, {
    value: Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)),
    issues,
  })
}
