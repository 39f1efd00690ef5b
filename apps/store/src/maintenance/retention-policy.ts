import { HiveStorageError, parseInput } from '@hive/errors'
import { artifactTypeSchema } from '@hive/schema'
import { z } from 'zod'
import { readSetting, writeSetting } from '../settings.js'
import type { HiveStore } from '../store.js'

/** The settings key the retention policy is kept under. */
export const RETENTION_SETTING = 'retention'

const days = z
  .number()
  .positive('must be more than 0 days')
  .max(36_500, 'must be at most 36500 days (100 years)')

/**
 * What the store keeps: every limit is optional, and a policy without any keeps everything.
 * Ages are in days (fractions allowed); an age counts from creation for artifacts, from the last
 * activity for inactive cells, and from archiving for archived cells.
 */
export const retentionPolicySchema = z.strictObject({
  /** Artifacts of a type older than this many days go (their transcript rows keep their preview). */
  artifactMaxAgeDays: z.partialRecord(artifactTypeSchema, days).optional(),
  /** Per cell, the newest N top-level sessions stay; older ones (not active) go with their sub-agent sessions. */
  keepSessionsPerCell: z.int().min(1).max(1_000_000).optional(),
  /** Cells without activity for this many days are archived (when their status allows it). */
  archiveInactiveAfterDays: days.optional(),
  /** Archived cells are deleted this many days after archiving. */
  deleteArchivedAfterDays: days.optional(),
  /**
   * A budget for the whole data directory (database pages in use and blob files): past it, the
   * oldest artifacts go, then the oldest archived cells, until it is met.
   */
  maxTotalBytes: z
    .int()
    .min(1024 * 1024, 'must be at least 1 MiB')
    .max(2 ** 53 - 1)
    .optional(),
})

export type RetentionPolicy = z.infer<typeof retentionPolicySchema>

/** A change to the policy: a value sets a limit, `null` removes it (also per artifact type). */
export type RetentionPolicyPatch = z.input<typeof patchSchema>

/**
 * The retention policy persisted in the data directory (`{}`: keep everything). A stored policy
 * that no longer validates (edited by hand, say) is a typed error, never silently ignored.
 */
export function readRetentionPolicy(store: Pick<HiveStore, 'database'>): RetentionPolicy {
  const row = readSetting(store.database, RETENTION_SETTING)
  if (row === undefined) return {}
  let value: unknown
  try {
    value = JSON.parse(row)
  } catch (cause) {
    throw new HiveStorageError('INVALID_INPUT', `the stored retention policy is not JSON`, {
      value: row,
      cause,
    })
  }
  return parseInput(retentionPolicySchema, value, 'stored retention policy')
}

/**
 * Changes the persisted retention policy: `patch` is validated whole before anything is written;
 * returns the policy now in force.
 *
 * @example
 * ```ts
 * writeRetentionPolicy(store, { artifactMaxAgeDays: { log: 30 }, keepSessionsPerCell: 20 })
 * writeRetentionPolicy(store, { keepSessionsPerCell: null }) // no limit any more
 * ```
 */
export function writeRetentionPolicy(
  store: Pick<HiveStore, 'database'>,
  patch: RetentionPolicyPatch,
  now: number = Date.now(),
): RetentionPolicy {
  const checkedPatch = parseInput(patchSchema, patch, 'retention policy change')
  return store.database.transaction(() => {
    const merged: Record<string, unknown> = { ...readRetentionPolicy(store) }
    for (const [key, value] of Object.entries(checkedPatch)) {
      if (value === null || value === undefined) delete merged[key]
      else if (key === 'artifactMaxAgeDays') {
        const ages: Record<string, number> = { ...(merged[key] as Record<string, number> | undefined) }
        for (const [type, age] of Object.entries(value as Record<string, number | null>)) {
          if (age === null) delete ages[type]
          else ages[type] = age
        }
        if (Object.keys(ages).length === 0) delete merged[key]
        else merged[key] = ages
      } else merged[key] = value
    }
    const policy = parseInput(retentionPolicySchema, merged, 'retention policy')
    writeSetting(store.database, RETENTION_SETTING, policy, now)
    return policy
  })
}

const patchSchema = z.strictObject({
  artifactMaxAgeDays: z.partialRecord(artifactTypeSchema, days.nullable()).nullable().optional(),
  keepSessionsPerCell: retentionPolicySchema.shape.keepSessionsPerCell.unwrap().nullable().optional(),
  archiveInactiveAfterDays: days.nullable().optional(),
  deleteArchivedAfterDays: days.nullable().optional(),
  maxTotalBytes: retentionPolicySchema.shape.maxTotalBytes.unwrap().nullable().optional(),
})

/** Whether a policy sets any limit at all. */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return (
    Object.keys(policy).length === 0 ||
    Object.values(policy).every(
      (value) => value === undefined || (typeof value === 'object' && Object.keys(value).length === 0),
    )
  )
}
