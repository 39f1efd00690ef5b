import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HiveStorageError } from '@hive/errors'

/** The file a check leaves in the data directory when it finds the database damaged. */
export const DAMAGE_MARKER = 'DAMAGED'

export interface DamageNote {
  readonly foundAt: number
  /** What found it: `hive check`, the maintenance runner's integrity task… */
  readonly by: string
  readonly problem: string
}

/**
 * Records that the database of a data directory was found damaged: from then on the store opens
 * only for `hive check` and `hive recover` (and restores), so that nothing writes to a damaged
 * file and spreads the damage. A later clean check, a recover or a restore clears it.
 */
export function markDamaged(root: string, note: DamageNote): void {
  const path = join(root, DAMAGE_MARKER)
  const temporary = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, `${JSON.stringify(note, null, 2)}\n`, { mode: 0o600 })
    renameSync(temporary, path)
  } catch {
    rmSync(temporary, { force: true }) // best effort: the check's own report says it all the same
  }
}

export function clearDamaged(root: string): void {
  rmSync(join(root, DAMAGE_MARKER), { force: true })
}

/** The note, if the data directory's database was found damaged and not recovered since. */
export function damageNote(root: string): DamageNote | undefined {
  try {
    return JSON.parse(readFileSync(join(root, DAMAGE_MARKER), 'utf8')) as DamageNote
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // Unreadable, but there: damaged all the same.
    return { foundAt: 0, by: 'unknown', problem: 'see the DAMAGED file in the data directory' }
  }
}

/** `DATABASE_CORRUPT` when the data directory is marked damaged. */
export function refuseIfDamaged(root: string): void {
  const note = damageNote(root)
  if (!note) return
  const when = note.foundAt
    ? ` on ${new Date(note.foundAt).toISOString().replace('T', ' ').slice(0, 19)} UTC`
    : ''
  throw new HiveStorageError(
    'DATABASE_CORRUPT',
    `the database in ${root} was found damaged${when} by ${note.by} (${note.problem.split('\n')[0]}): run \`hive recover\` or restore a backup (docs/recovery.md)`,
    { value: root },
  )
}
