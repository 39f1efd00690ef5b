import { type Dirent, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import type { OpencodeProject, OpencodeSessionEntry, OpencodeSource } from './opencode-source.js'
import type { RawTranscript } from './opencode-transcript.js'

/**
 * Reads OpenCode's JSON file store (OpenCode ≤ 1.1.x), given its `storage` directory:
 * `session/<projectID>/<sessionID>.json`, `message/<sessionID>/<messageID>.json`,
 * `part/<messageID>/<partID>.json` and `project/<projectID>.json`. Files are only read.
 * Messages and parts come in id order, which is OpenCode's creation order.
 *
 * @example
 * ```ts
 * const source = new JsonStorageReader({ storage: '~/.local/share/opencode/storage' })
 * for (const entry of source.sessions()) console.log(entry.id, source.read(entry.id).messages.length)
 * ```
 */
export class JsonStorageReader implements OpencodeSource {
  readonly format = 'json-storage' as const
  readonly path: string
  #sessions: OpencodeSessionEntry[] | undefined
  readonly #files = new Map<string, string>()

  constructor(config: { readonly storage: string }) {
    this.path = config.storage
  }

  projects(): ReadonlyMap<string, OpencodeProject> {
    const projects = new Map<string, OpencodeProject>()
    for (const entry of this.#list(join(this.path, 'project'))) {
      if (!entry.isFile() || !entry.name.endsWith('.json')) continue
      const id = entry.name.slice(0, -'.json'.length)
      let project: Record<string, unknown> = {}
      try {
        project = asObject(this.#json(join(this.path, 'project', entry.name), {}))
      } catch {
        // A project file only names the worktree: without it, sessions still have their directory.
      }
      projects.set(id, {
        id,
        worktree: typeof project.worktree === 'string' ? project.worktree : null,
        name: typeof project.name === 'string' ? project.name : null,
      })
    }
    return projects
  }

  sessions(): readonly OpencodeSessionEntry[] {
    if (this.#sessions) return this.#sessions
    const sessions: OpencodeSessionEntry[] = []
    for (const project of this.#list(join(this.path, 'session'))) {
      if (!project.isDirectory()) continue
      for (const file of this.#list(join(this.path, 'session', project.name))) {
        if (!file.isFile() || !file.name.endsWith('.json')) continue
        const id = file.name.slice(0, -'.json'.length)
        const path = join(this.path, 'session', project.name, file.name)
        this.#files.set(id, path)
        const bare = {
          id,
          projectId: project.name,
          parentId: null,
          title: null,
          directory: null,
          createdAt: null,
        }
        try {
          const session = asObject(this.#json(path, { sessionID: id }), { sessionID: id })
          if (session.id !== id) {
            throw new HiveStorageError(
              'INVALID_INPUT',
              `${this.#relative(path)}: the session's id is ${JSON.stringify(session.id)}, not ${id}`,
              { value: { sessionID: id } },
            )
          }
          const time = session.time as { created?: unknown } | undefined
          sessions.push({
            ...bare,
            parentId: typeof session.parentID === 'string' ? session.parentID : null,
            title: typeof session.title === 'string' ? session.title : null,
            directory: typeof session.directory === 'string' ? session.directory : null,
            createdAt: typeof time?.created === 'number' ? time.created : null,
          })
        } catch (error) {
          sessions.push({ ...bare, problem: typed(error, path) })
        }
      }
    }
    this.#sessions = sessions
    return sessions
  }

  read(sessionId: string): RawTranscript {
    if (!this.#sessions) this.sessions()
    const path = this.#files.get(sessionId)
    if (!path) {
      throw new HiveStorageError('NOT_FOUND', `there is no OpenCode session ${sessionId} in ${this.path}`, {
        value: sessionId,
      })
    }
    const where = { sessionID: sessionId }
    const session = this.#json(path, where)
    const messages: Array<{ info: unknown; parts: unknown[] }> = []
    const messageDir = join(this.path, 'message', sessionId)
    for (const file of this.#list(messageDir, where)) {
      if (!file.isFile() || !file.name.endsWith('.json')) continue
      const messageID = file.name.slice(0, -'.json'.length)
      const info = this.#json(join(messageDir, file.name), { ...where, messageID })
      const partDir = join(this.path, 'part', messageID)
      const parts: unknown[] = []
      for (const part of this.#list(partDir, { ...where, messageID })) {
        if (!part.isFile() || !part.name.endsWith('.json')) continue
        parts.push(this.#json(join(partDir, part.name), { ...where, messageID }))
      }
      messages.push({ info, parts })
    }
    return { session, messages }
  }

  close(): void {}

  /** A directory's entries by name (OpenCode's ids sort in creation order); none if it is absent. */
  #list(dir: string, where: Record<string, string> = {}): Dirent[] {
    try {
      return readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      )
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new HiveStorageError('IO_ERROR', `cannot read ${dir}: ${(error as Error).message}`, {
        value: { ...where, path: dir },
        cause: error,
      })
    }
  }

  #json(path: string, where: Record<string, string>): unknown {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (error) {
      throw new HiveStorageError('IO_ERROR', `cannot read ${path}: ${(error as Error).message}`, {
        value: { ...where, path },
        cause: error,
      })
    }
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `${this.#relative(path)} is not valid JSON: ${(error as Error).message}`,
        { value: { ...where, file: this.#relative(path) }, cause: error },
      )
    }
  }

  #relative(path: string): string {
    return relative(this.path, path)
  }
}

function asObject(value: unknown, where: Record<string, string> = {}): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HiveStorageError('INVALID_INPUT', 'expected a JSON object', { value: where })
  }
  return value as Record<string, unknown>
}

function typed(error: unknown, path: string): HiveStorageError {
  if (isHiveStorageError(error)) return error
  return new HiveStorageError(
    'INTERNAL',
    `cannot read ${path}: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
    },
  )
}
