import { z } from 'zod'
import { lineSchema, textSchema, timestampSchema } from '../columns.js'
import { artifactStatusSchema, artifactTypeSchema, blobEncodingSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A blob's name: the SHA-256 of its uncompressed content, in lower-case hex. */
export const blobHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest')

/** A MIME type such as `text/plain; charset=utf-8`. */
export const contentTypeSchema = z
  .string()
  .max(255)
  .regex(/^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"]*"|[\w.+-]+))*$/, 'must be a MIME type')

/**
 * A row of `artifacts`: a named, typed reference from a cell (optionally a session and message)
 * to a blob. `summary` is the text the search index holds for it (a log excerpt, a diff summary).
 */
export const artifactRowSchema = z.object({
  rid: z.int(),
  id: idSchema('artifact'),
  cell_id: idSchema('cell'),
  session_id: idSchema('session').nullable(),
  message_id: idSchema('message').nullable(),
  type: artifactTypeSchema,
  name: z.string(),
  content_type: z.string(),
  blob_hash: blobHashSchema,
  size: z.int().nonnegative(),
  stored_size: z.int().nonnegative(),
  status: artifactStatusSchema,
  summary: z.string().nullable(),
  created_at: timestampSchema,
  expires_at: timestampSchema.nullable(),
})
export type ArtifactRow = z.infer<typeof artifactRowSchema>

/** What a caller passes to store an artifact (the content itself travels separately). */
export const newArtifactSchema = z.object({
  id: idSchema('artifact').optional(),
  cellId: idSchema('cell'),
  sessionId: idSchema('session').nullable().optional(),
  messageId: idSchema('message').nullable().optional(),
  type: artifactTypeSchema,
  name: lineSchema(500),
  contentType: contentTypeSchema.optional(),
  summary: textSchema(64 * 1024)
    .nullable()
    .optional(),
  expiresAt: timestampSchema.nullable().optional(),
})
export type NewArtifact = z.input<typeof newArtifactSchema>

/** A row of `blobs`: the SQLite side of a blob file, for reference integrity and verification. */
export const blobRowSchema = z.object({
  hash: blobHashSchema,
  size: z.int().nonnegative(),
  stored_size: z.int().nonnegative(),
  encoding: blobEncodingSchema,
  created_at: timestampSchema,
  verified_at: timestampSchema.nullable(),
})
export type BlobRow = z.infer<typeof blobRowSchema>
