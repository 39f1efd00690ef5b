import { z } from 'zod'
import { BUNDLE_TABLE_NAMES, type BundleTableName } from './bundle-tables.js'

/** What `format` says in every bundle's manifest. */
export const BUNDLE_FORMAT = 'hive-bundle'
/** The version of the bundle format this code writes and reads. */
export const BUNDLE_FORMAT_VERSION = 1

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest')
const count = z.int().nonnegative()

/**
 * `manifest.json`, the last entry of a bundle: what it holds, at which schema, and the SHA-256 and
 * size of every other entry, so that an import can tell a complete, unchanged bundle from anything
 * else before it writes.
 */
export const bundleManifestSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
    /** The latest migration applied to the database the bundle came from. */
    schemaVersion: z.string().min(1).max(200),
    createdAt: z.int().nonnegative(),
    /** What was exported: cells by id, or a whole workspace. */
    scope: z.union([
      z.object({ cells: z.array(z.string()).min(1) }).strict(),
      z.object({ workspace: z.string() }).strict(),
    ]),
    /** Rows per table (every table of the format, zeros included). */
    counts: z
      .object(
        Object.fromEntries(BUNDLE_TABLE_NAMES.map((name) => [name, count])) as Record<
          BundleTableName,
          typeof count
        >,
      )
      .strict(),
    /**
     * Blob files (entries under `blobs/`). A blob whose artifacts are all marked missing may have
     * a row and no file, so this can be less than `counts.blobs`.
     */
    blobs: count,
    /** Every entry but the manifest, in the order written. */
    entries: z.array(z.object({ path: z.string(), size: count, sha256 }).strict()),
  })
  .strict()

export type BundleManifest = z.infer<typeof bundleManifestSchema>
