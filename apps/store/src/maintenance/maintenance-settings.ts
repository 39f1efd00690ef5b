import { HiveStorageError, parseInput } from '@hive/errors'
import { z } from 'zod'
import { readSetting, writeSetting } from '../settings.js'
import type { HiveStore } from '../store.js'

/** The settings key the maintenance schedule is kept under. */
export const MAINTENANCE_SETTING = 'maintenance'

/** The maintenance runner's periodic tasks. */
export const MAINTENANCE_TASKS = [
  'checkpoint',
  'integrity',
  'retention',
  'gc',
  'vacuum',
  'fts-optimize',
] as const
export type MaintenanceTask = (typeof MAINTENANCE_TASKS)[number]

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const interval = z
  .int('must be a whole number of milliseconds')
  .min(SECOND, 'must be at least 1 second')
  .max(365 * DAY, 'must be at most 365 days')

/**
 * When each maintenance task runs, and its limits. Stored values override these defaults; a
 * task listed in `disabled` never runs.
 */
export const maintenanceSettingsSchema = z.strictObject({
  /** A passive WAL checkpoint (a restart-and-truncate one once the WAL passes `walLimitBytes`). */
  checkpointEveryMs: interval.default(MINUTE),
  walLimitBytes: z
    .int()
    .min(1024 * 1024, 'must be at least 1 MiB')
    .max(2 ** 40)
    .default(64 * 1024 * 1024),
  /** quick_check, and verification of a rotating sample of blobs. */
  integrityEveryMs: interval.default(HOUR),
  /** Every blob is verified at least once within this period (the sample rotates through them). */
  verifyAllBlobsWithinMs: interval.default(7 * DAY),
  /** Blobs verified per integrity run, at least (more when the period needs it). */
  blobsPerCheck: z.int().min(0).max(1_000_000).default(20),
  retentionEveryMs: interval.default(HOUR),
  gcEveryMs: interval.default(6 * HOUR),
  /** Unreferenced blobs younger than this stay (a write in flight stores its blob first). */
  gcGraceMs: z
    .int()
    .min(5 * MINUTE, 'must be at least 5 minutes (writes in flight store their blob first)')
    .max(365 * DAY)
    .default(HOUR),
  vacuumEveryMs: interval.default(HOUR),
  ftsOptimizeEveryMs: interval.default(DAY),
  disabled: z.array(z.enum(MAINTENANCE_TASKS)).default([]),
})

export type MaintenanceSettings = z.output<typeof maintenanceSettingsSchema>
/** A change: a value sets, `null` goes back to the default. */
export type MaintenanceSettingsPatch = {
  readonly [K in keyof MaintenanceSettings]?: MaintenanceSettings[K] | null
}

const storedSchema = maintenanceSettingsSchema.partial()

/** The schedule in force: the stored values over the defaults. A stored value that does not validate is a typed error. */
export function readMaintenanceSettings(store: Pick<HiveStore, 'database'>): MaintenanceSettings {
  return maintenanceSettingsSchema.parse(readStored(store))
}

function readStored(store: Pick<HiveStore, 'database'>): Record<string, unknown> {
  const text = readSetting(store.database, MAINTENANCE_SETTING)
  if (text === undefined) return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new HiveStorageError('INVALID_INPUT', 'the stored maintenance settings are not JSON', {
      value: text,
      cause,
    })
  }
  return parseInput(storedSchema, value, 'stored maintenance settings') as Record<string, unknown>
}

/**
 * Changes the maintenance schedule: the whole change is validated before anything is written
 * (`INVALID_INPUT` naming the setting otherwise); returns the schedule now in force.
 *
 * @example
 * ```ts
 * writeMaintenanceSettings(store, { gcEveryMs: 12 * 60 * 60 * 1000, disabled: ['fts-optimize'] })
 * ```
 */
export function writeMaintenanceSettings(
  store: Pick<HiveStore, 'database'>,
  patch: MaintenanceSettingsPatch,
  now: number = Date.now(),
): MaintenanceSettings {
  const changes = parseInput(patchSchema, patch, 'maintenance settings')
  return store.database.transaction(() => {
    // Stored values that no longer validate (edited by hand) are dropped, so that the schedule
    // can be put right from here; the ones that validate stay.
    const stored = validStoredEntries(store)
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete stored[key]
      else if (value !== undefined) stored[key] = value
    }
    const checked = parseInput(storedSchema, stored, 'maintenance settings')
    writeSetting(store.database, MAINTENANCE_SETTING, checked, now)
    return maintenanceSettingsSchema.parse(checked)
  })
}

function validStoredEntries(store: Pick<HiveStore, 'database'>): Record<string, unknown> {
  try {
    return readStored(store)
  } catch {
    const text = readSetting(store.database, MAINTENANCE_SETTING)
    let value: Record<string, unknown> = {}
    try {
      value = JSON.parse(text ?? '{}') as Record<string, unknown>
    } catch {
      return {}
    }
    const shape = storedSchema.shape as Record<string, z.ZodType>
    return Object.fromEntries(
      Object.entries(value ?? {}).filter(([key, v]) => shape[key]?.safeParse(v).success === true),
    )
  }
}

const patchSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(maintenanceSettingsSchema.shape).map(([key, schema]) => [
      key,
      (schema as z.ZodDefault<z.ZodType>).unwrap().nullable().optional(),
    ]),
  ) as { [K in keyof MaintenanceSettings]: z.ZodOptional<z.ZodNullable<z.ZodType<MaintenanceSettings[K]>>> },
)

/** How often `task` runs under `settings`. */
export function taskInterval(settings: MaintenanceSettings, task: MaintenanceTask): number {
  switch (task) {
    case 'checkpoint':
      return settings.checkpointEveryMs
    case 'integrity':
      return settings.integrityEveryMs
    case 'retention':
      return settings.retentionEveryMs
    case 'gc':
      return settings.gcEveryMs
    case 'vacuum':
      return settings.vacuumEveryMs
    case 'fts-optimize':
      return settings.ftsOptimizeEveryMs
  }
}

/** Parses `90s`, `15m`, `6h`, `7d` or plain milliseconds, or a usage error. */
export function parseDuration(name: string, text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/)
  const unit = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }[(match?.[2] ?? 'ms') as 'ms']
  const value = match ? Math.round(Number(match[1]) * unit) : Number.NaN
  if (!Number.isSafeInteger(value)) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${name} must be a duration such as 90s, 15m, 6h or 7d, not ${JSON.stringify(text)}`,
      {
        value: text,
      },
    )
  }
  return value
}
