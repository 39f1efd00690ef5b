import type { HiveStorageError } from '@hive/errors'
import type { RawTranscript } from './opencode-transcript.js'

/** OpenCode's two on-disk forms: the JSON file tree (≤ 1.1.x) and `opencode.db` (≥ 1.2). */
export type OpencodeFormat = 'json-storage' | 'sqlite'

/** An OpenCode project: a git repository (by its first root commit) or `global`. */
export interface OpencodeProject {
  readonly id: string
  /** The repository's directory, when known. */
  readonly worktree: string | null
  readonly name: string | null
}

/** A session as a source lists it, before its messages are read. */
export interface OpencodeSessionEntry {
  readonly id: string
  readonly projectId: string | null
  /** The parent session of a sub-agent session. */
  readonly parentId: string | null
  readonly title: string | null
  readonly directory: string | null
  readonly createdAt: number | null
  /** Why the session cannot be read at all (its file is not JSON, say): it is reported and skipped. */
  readonly problem?: HiveStorageError
}

/**
 * One OpenCode data directory, read-only: its projects, its sessions, and a session's messages
 * and parts in OpenCode's order. Implementations never write where they read.
 */
export interface OpencodeSource {
  readonly format: OpencodeFormat
  /** What is read: the `storage` directory or the database file. */
  readonly path: string
  projects(): ReadonlyMap<string, OpencodeProject>
  sessions(): readonly OpencodeSessionEntry[]
  /**
   * One session with its messages (by id, i.e. creation order) and their parts (by id), as
   * OpenCode's SDK would return them; not validated yet. Throws a typed error when the data
   * cannot be read or parsed.
   */
  read(sessionId: string): RawTranscript
  /** Releases what the source holds (a database connection, a private copy). */
  close(): void
}
