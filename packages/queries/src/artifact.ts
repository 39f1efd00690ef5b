import type { ArtifactRow, ArtifactStatus, ArtifactType } from '@hive/schema'

/** An artifact: a named, typed reference from a cell to stored content. */
export interface Artifact {
  readonly id: string
  readonly cellId: string
  readonly sessionId: string | null
  readonly messageId: string | null
  readonly type: ArtifactType
  readonly name: string
  readonly contentType: string
  readonly blobHash: string
  readonly size: number
  readonly storedSize: number
  readonly status: ArtifactStatus
  readonly summary: string | null
  readonly createdAt: number
  readonly expiresAt: number | null
}

export function toArtifact(row: Omit<ArtifactRow, 'rid'>): Artifact {
  return {
    id: row.id,
    cellId: row.cell_id,
    sessionId: row.session_id,
    messageId: row.message_id,
    type: row.type,
    name: row.name,
    contentType: row.content_type,
    blobHash: row.blob_hash,
    size: row.size,
    storedSize: row.stored_size,
    status: row.status,
    summary: row.summary,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}
