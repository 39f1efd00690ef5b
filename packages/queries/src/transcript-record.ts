import type { JsonObject, MessageRole, MessageRow, MessageState, PartRow } from '@hive/schema'

/**
 * One part of a transcript message. `data` (OpenCode's whole part object) is parsed on first
 * use, so reading a page costs what the rows cost; `toJSON` gives a plain object.
 */
export class TranscriptPart {
  readonly id: string
  readonly messageId: string
  readonly seq: number
  readonly type: string
  /** The searchable text taken from the part (a tool's output preview, say). */
  readonly text: string | null
  /**
   * The artifact holding what was too large to keep inline (a tool's output, or the whole part):
   * `data` then has previews naming it; `TranscriptService.originalPart` puts it back together.
   */
  readonly artifactId: string | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly #raw: string
  #data: JsonObject | undefined

  constructor(row: Omit<PartRow, 'rid'>) {
    this.id = row.id
    this.messageId = row.message_id
    this.seq = row.seq
    this.type = row.type
    this.text = row.text
    this.artifactId = row.artifact_id
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
    this.#raw = row.data
  }

  get data(): JsonObject {
    this.#data ??= JSON.parse(this.#raw) as JsonObject
    return this.#data
  }

  /** About how much memory this part holds (its stored JSON and text), for caches' byte limits. */
  get approximateBytes(): number {
    return 2 * (this.#raw.length + (this.text?.length ?? 0)) + 200
  }

  toJSON(): object {
    const { id, messageId, seq, type, text, artifactId, createdAt, updatedAt } = this
    return { id, messageId, seq, type, text, artifactId, createdAt, updatedAt, data: this.data }
  }
}

/** Token counts of a message (OpenCode's `tokens`). */
export interface TokenCounts {
  readonly input: number
  readonly output: number
  readonly reasoning: number
  readonly cacheRead: number
  readonly cacheWrite: number
}

/**
 * One message of a transcript with its parts, in order. `info` (OpenCode's whole message object)
 * is parsed on first use.
 */
export class TranscriptMessage {
  readonly id: string
  readonly sessionId: string
  readonly seq: number
  readonly role: MessageRole
  readonly parentId: string | null
  readonly state: MessageState
  readonly modelId: string | null
  readonly providerId: string | null
  readonly tokens: TokenCounts
  readonly cost: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly completedAt: number | null
  /** As a part's: the artifact holding the whole `info` when some of it was too large to keep inline. */
  readonly artifactId: string | null
  readonly parts: TranscriptPart[]
  readonly #raw: string
  readonly #rawError: string | null
  #info: JsonObject | undefined

  constructor(row: MessageRow, parts: TranscriptPart[]) {
    this.id = row.id
    this.sessionId = row.session_id
    this.seq = row.seq
    this.role = row.role
    this.parentId = row.parent_id
    this.state = row.state
    this.modelId = row.model_id
    this.providerId = row.provider_id
    this.tokens = {
      input: row.tokens_input,
      output: row.tokens_output,
      reasoning: row.tokens_reasoning,
      cacheRead: row.tokens_cache_read,
      cacheWrite: row.tokens_cache_write,
    }
    this.cost = row.cost
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
    this.completedAt = row.completed_at
    this.artifactId = row.artifact_id
    this.parts = parts
    this.#raw = row.data
    this.#rawError = row.error
  }

  /** The provider's message object (OpenCode's `info`). */
  get info(): JsonObject {
    this.#info ??= JSON.parse(this.#raw) as JsonObject
    return this.#info
  }

  /** About how much memory this message and its parts hold, for caches' byte limits. */
  get approximateBytes(): number {
    let bytes = 2 * (this.#raw.length + (this.#rawError?.length ?? 0)) + 300
    for (const part of this.parts) bytes += part.approximateBytes
    return bytes
  }

  get error(): JsonObject | null {
    return this.#rawError === null ? null : (JSON.parse(this.#rawError) as JsonObject)
  }

  toJSON(): object {
    const {
      id,
      sessionId,
      seq,
      role,
      parentId,
      state,
      modelId,
      providerId,
      tokens,
      cost,
      createdAt,
      updatedAt,
      completedAt,
      artifactId,
      parts,
    } = this
    return {
      id,
      sessionId,
      seq,
      role,
      parentId,
      state,
      modelId,
      providerId,
      tokens,
      cost,
      createdAt,
      updatedAt,
      completedAt,
      artifactId,
      error: this.error,
      info: this.info,
      parts,
    }
  }
}
