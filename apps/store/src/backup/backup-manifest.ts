import { z } from 'zod'

/** The manifest's file name inside a backup directory. */
export const BACKUP_MANIFEST = 'backup.json'
export const BACKUP_FORMAT = 'hive-backup'

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex')

/** `backup.json`: what a backup holds, to verify it before restoring. */
export const backupManifestSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  /** This layout's version: a newer one is refused rather than misread. */
  version: z.literal(1),
  createdAt: z.int().nonnegative(),
  /** The data directory it was taken from. */
  source: z.string(),
  /** The last migration applied in the backed-up database. */
  schemaVersion: z.string().nullable(),
  database: z.strictObject({
    file: z.literal('hive.db'),
    bytes: z.int().nonnegative(),
    sha256,
  }),
  blobs: z.strictObject({
    count: z.int().nonnegative(),
    bytes: z.int().nonnegative(),
    /** Blobs the database referred to that the data directory did not have when it was backed up. */
    missing: z.array(sha256),
  }),
})

export type BackupManifest = z.infer<typeof backupManifestSchema>
