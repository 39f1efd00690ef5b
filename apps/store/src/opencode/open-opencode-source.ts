import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { HiveStorageError } from '@hive/errors'
import { JsonStorageReader } from './json-storage-reader.js'
import type { OpencodeSource } from './opencode-source.js'
import { SqliteReader } from './sqlite-reader.js'

/** Which of OpenCode's forms to read: `auto` takes `opencode.db` when there is one. */
export type OpencodeFormatChoice = 'auto' | 'json' | 'sqlite'

export interface OpenOpencodeSourceOptions {
  /**
   * OpenCode's data directory (`~/.local/share/opencode`, holding `opencode.db` and/or `storage/`),
   * its `storage` directory, or the database file itself.
   */
  readonly dir: string
  readonly format?: OpencodeFormatChoice
  /** Where the SQLite reader puts its private copy (default: the OS temp directory). */
  readonly tempDir?: string
}

/**
 * Finds OpenCode's data in `dir` and opens it for reading. With both forms present (OpenCode 1.2
 * imported the JSON files into `opencode.db` and left them), `auto` reads the database, the
 * newer and complete one. Throws `NOT_FOUND` when `dir` does not exist and `INVALID_INPUT` when
 * it holds neither form; nothing is written anywhere in either case.
 *
 * @example
 * ```ts
 * const source = openOpencodeSource({ dir: join(homedir(), '.local/share/opencode') })
 * source.format // 'sqlite' | 'json-storage'
 * ```
 */
export function openOpencodeSource(options: OpenOpencodeSourceOptions): OpencodeSource {
  if (typeof options?.dir !== 'string' || options.dir.trim() === '' || options.dir.includes('\0')) {
    throw new HiveStorageError('INVALID_INPUT', 'the OpenCode directory must be a non-empty path', {
      value: options?.dir,
    })
  }
  const format = options.format ?? 'auto'
  if (!['auto', 'json', 'sqlite'].includes(format)) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `format must be auto, json or sqlite, not ${JSON.stringify(format)}`,
      {
        value: format,
      },
    )
  }
  const dir = resolve(options.dir)
  const stat = kind(dir)
  if (stat === 'none') {
    throw new HiveStorageError('NOT_FOUND', `OpenCode data directory ${dir} does not exist`, { value: dir })
  }
  const sqlite = (file: string) =>
    SqliteReader.open({ file, ...(options.tempDir === undefined ? {} : { tempDir: options.tempDir }) })
  if (stat === 'file') {
    if (format === 'json') {
      throw new HiveStorageError('INVALID_INPUT', `${dir} is a file, not OpenCode's JSON storage directory`, {
        value: dir,
      })
    }
    return sqlite(dir)
  }
  const database = kind(join(dir, 'opencode.db')) === 'file' ? join(dir, 'opencode.db') : undefined
  const storage =
    kind(join(dir, 'storage', 'session')) === 'directory'
      ? join(dir, 'storage')
      : isStorage(dir)
        ? dir
        : undefined
  if (database && format !== 'json') return sqlite(database)
  if (storage && format !== 'sqlite') return new JsonStorageReader({ storage })
  const wanted =
    format === 'sqlite'
      ? 'no opencode.db'
      : format === 'json'
        ? 'no storage/session directory'
        : 'neither opencode.db nor storage/session'
  throw new HiveStorageError('INVALID_INPUT', `${dir} is not an OpenCode data directory: it has ${wanted}`, {
    value: dir,
  })
}

/** A `storage` directory given itself: its `session` and `message` directories. */
function isStorage(dir: string): boolean {
  return kind(join(dir, 'session')) === 'directory' && kind(join(dir, 'message')) === 'directory'
}

function kind(path: string): 'file' | 'directory' | 'other' | 'none' {
  try {
    const stat = statSync(path)
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other'
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return 'none'
    throw new HiveStorageError('IO_ERROR', `cannot read ${path}: ${(error as Error).message}`, {
      value: path,
      cause: error,
    })
  }
}
