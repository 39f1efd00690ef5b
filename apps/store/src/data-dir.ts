import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { HiveStorageError } from '@hive/errors'

/** Where things live inside a data directory. */
export interface DataDirLayout {
  readonly root: string
  readonly database: string
  readonly blobs: string
  /** Pre-migration, pre-restore and backup snapshots of the database. */
  readonly snapshots: string
  /** Damaged files moved aside: never deleted by Hive. */
  readonly quarantine: string
}

export function dataDirLayout(root: string): DataDirLayout {
  const dir = resolve(root)
  return {
    root: dir,
    database: join(dir, 'hive.db'),
    blobs: join(dir, 'blobs'),
    snapshots: join(dir, 'snapshots'),
    quarantine: join(dir, 'quarantine'),
  }
}

/**
 * The platform's data directory for Hive: `$HIVE_DATA_DIR` if set, else `$XDG_DATA_HOME/hive`
 * or `~/.local/share/hive` on Linux, `~/Library/Application Support/hive` on macOS,
 * `%LOCALAPPDATA%\hive` on Windows.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): { readonly path: string; readonly explicit: boolean } {
  if (env.HIVE_DATA_DIR) return { path: resolve(env.HIVE_DATA_DIR), explicit: true }
  if (platform === 'darwin')
    return { path: join(home, 'Library', 'Application Support', 'hive'), explicit: false }
  if (platform === 'win32') {
    return { path: join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'hive'), explicit: false }
  }
  return { path: join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'hive'), explicit: false }
}

/**
 * Makes sure the data directory exists and can be written. `create` makes it (mode 0700, with
 * missing parents) when absent: Hive does that for its default directory only, so a mistyped
 * `--data-dir` fails instead of scattering data somewhere unexpected.
 */
export function ensureDataDir(root: string, options: { create: boolean; writable: boolean }): DataDirLayout {
  const layout = dataDirLayout(root)
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(layout.root)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new HiveStorageError(
        'DATA_DIR_UNUSABLE',
        `cannot read data directory ${layout.root}: ${(error as Error).message}`,
        {
          value: layout.root,
          cause: error,
        },
      )
    }
    if (!options.create) {
      throw new HiveStorageError('DATA_DIR_UNUSABLE', `data directory ${layout.root} does not exist`, {
        value: layout.root,
      })
    }
    try {
      mkdirSync(layout.root, { recursive: true, mode: 0o700 })
    } catch (cause) {
      throw new HiveStorageError(
        'DATA_DIR_UNUSABLE',
        `cannot create data directory ${layout.root}: ${(cause as Error).message}`,
        {
          value: layout.root,
          cause,
        },
      )
    }
    return layout
  }
  if (!stat.isDirectory()) {
    throw new HiveStorageError('DATA_DIR_UNUSABLE', `data directory ${layout.root} is not a directory`, {
      value: layout.root,
    })
  }
  try {
    accessSync(
      layout.root,
      options.writable ? constants.R_OK | constants.W_OK | constants.X_OK : constants.R_OK | constants.X_OK,
    )
  } catch (cause) {
    throw new HiveStorageError(
      'DATA_DIR_UNUSABLE',
      `data directory ${layout.root} is not ${options.writable ? 'writable' : 'readable'} by this user`,
      { value: layout.root, cause },
    )
  }
  return layout
}
