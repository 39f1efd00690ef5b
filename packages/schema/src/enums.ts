import { z } from 'zod'

/** Kinds of cell. */
export const CELL_TYPES = ['implementation', 'planning', 'manual'] as const
export const cellTypeSchema = z.enum(CELL_TYPES)
export type CellType = z.infer<typeof cellTypeSchema>

/** A cell's lifecycle states; the allowed moves between them are {@link CELL_STATUS_TRANSITIONS}. */
export const CELL_STATUSES = [
  'draft',
  'provisioning',
  'active',
  'awaiting_input',
  'reviewing',
  'completed',
  'parked',
  'archived',
  'error',
] as const
export const cellStatusSchema = z.enum(CELL_STATUSES)
export type CellStatus = z.infer<typeof cellStatusSchema>

/** Typed relationships between cells, read `from → to`. */
export const CELL_LINK_TYPES = ['plans', 'spawned_from', 'depends_on', 'related'] as const
export const cellLinkTypeSchema = z.enum(CELL_LINK_TYPES)
export type CellLinkType = z.infer<typeof cellLinkTypeSchema>

/** How a cell's agent starts after provisioning. */
export const START_MODES = ['plan', 'build'] as const
export const startModeSchema = z.enum(START_MODES)
export type StartMode = z.infer<typeof startModeSchema>

export const SERVICE_STATUSES = ['stopped', 'starting', 'running', 'needs_resume', 'error'] as const
export const serviceStatusSchema = z.enum(SERVICE_STATUSES)
export type ServiceStatus = z.infer<typeof serviceStatusSchema>

export const PLAN_STATUSES = [
  'draft',
  'submitted',
  'awaiting_approval',
  'approved',
  'rejected',
  'superseded',
] as const
export const planStatusSchema = z.enum(PLAN_STATUSES)
export type PlanStatus = z.infer<typeof planStatusSchema>

/** The agent's mode in a session. */
export const SESSION_MODES = ['plan', 'build'] as const
export const sessionModeSchema = z.enum(SESSION_MODES)
export type SessionMode = z.infer<typeof sessionModeSchema>

export const SESSION_STATUSES = ['active', 'idle', 'completed', 'error', 'aborted'] as const
export const sessionStatusSchema = z.enum(SESSION_STATUSES)
export type SessionStatus = z.infer<typeof sessionStatusSchema>

export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const
export const messageRoleSchema = z.enum(MESSAGE_ROLES)
export type MessageRole = z.infer<typeof messageRoleSchema>

export const MESSAGE_STATES = ['pending', 'streaming', 'completed', 'error'] as const
export const messageStateSchema = z.enum(MESSAGE_STATES)
export type MessageState = z.infer<typeof messageStateSchema>

/**
 * OpenCode's part types known today. Parts of other types are stored as they come (the column is
 * open text), so a newer OpenCode never loses data here.
 */
export const KNOWN_PART_TYPES = [
  'text',
  'reasoning',
  'tool',
  'file',
  'step-start',
  'step-finish',
  'patch',
  'snapshot',
  'agent',
  'subtask',
  'compaction',
  'retry',
] as const
export type KnownPartType = (typeof KNOWN_PART_TYPES)[number]

export const ARTIFACT_TYPES = ['log', 'diff', 'transcript', 'file', 'plan', 'other'] as const
export const artifactTypeSchema = z.enum(ARTIFACT_TYPES)
export type ArtifactType = z.infer<typeof artifactTypeSchema>

/** `available` until a check finds its blob gone or corrupt. */
export const ARTIFACT_STATUSES = ['available', 'missing'] as const
export const artifactStatusSchema = z.enum(ARTIFACT_STATUSES)
export type ArtifactStatus = z.infer<typeof artifactStatusSchema>

/** How a blob file is stored: a sequence of LZ4 frames, or the bytes as they are. */
export const BLOB_ENCODINGS = ['lz4-frames', 'raw'] as const
export const blobEncodingSchema = z.enum(BLOB_ENCODINGS)
export type BlobEncoding = z.infer<typeof blobEncodingSchema>

/** Who caused a timeline event. */
export const EVENT_SOURCES = ['agent', 'human', 'system', 'service'] as const
export const eventSourceSchema = z.enum(EVENT_SOURCES)
export type EventSource = z.infer<typeof eventSourceSchema>

/**
 * Kinds of document in the search index: a cell's name and description, a plan, a transcript
 * part by its type (`other` for part types besides text, reasoning and tool), an artifact.
 */
export const SEARCH_KINDS = ['cell', 'plan', 'text', 'reasoning', 'tool', 'other', 'artifact'] as const
export const searchKindSchema = z.enum(SEARCH_KINDS)
export type SearchKind = z.infer<typeof searchKindSchema>
