import { bundleInvalid } from './bundle-invalid.js'
import { BUNDLE_TABLE_NAMES, type BundleTableName } from './bundle-tables.js'

/** What an entry of a bundle holds, by its path. */
export type BundleEntry =
  | { readonly kind: 'manifest'; readonly path: string }
  | { readonly kind: 'rows'; readonly path: string; readonly table: BundleTableName }
  | {
      readonly kind: 'blob'
      readonly path: string
      readonly hash: string
      readonly encoding: 'lz4-frames' | 'raw'
    }
  | { readonly kind: 'directory'; readonly path: string }

export const MANIFEST_PATH = 'manifest.json'

const BLOB = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})(\.lz4)?$/
const ROWS = /^rows\/([a-z_]+)\.jsonl$/
const DIRECTORIES = /^(|rows|blobs|blobs\/sha256|blobs\/sha256\/[0-9a-f]{2})$/

/** The path in a bundle of a table's rows. */
export function rowsPath(table: BundleTableName): string {
  return `rows/${table}.jsonl`
}

/** The path in a bundle of a blob file, as the blob store names it under its root. */
export function blobPath(hash: string, encoding: 'lz4-frames' | 'raw'): string {
  return `blobs/sha256/${hash.slice(0, 2)}/${hash}${encoding === 'raw' ? '' : '.lz4'}`
}

/**
 * Reads a path of a bundle (a tar entry's name, or a path the manifest lists) and says what it
 * holds. Only the paths a bundle is made of are accepted: anything absolute, with `..`, `\` or
 * empty segments, or simply unexpected is refused before a byte of it is written anywhere.
 * A leading `./` (as `tar -C dir -cf bundle.tar .` writes) is allowed.
 */
export function bundleEntry(name: string, directory = false): BundleEntry {
  const fail = (why: string) => bundleInvalid(`entry ${JSON.stringify(name)} ${why}`, name)
  if (typeof name !== 'string' || name.length === 0) throw fail('has no name')
  if (name.length > 1024) throw fail('has a path longer than 1024 characters')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f\\]/.test(name)) throw fail('has a control character or a backslash in its path')
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw fail('has an absolute path')
  let path = name
  while (path.startsWith('./')) path = path.slice(2)
  if (directory) path = path.replace(/\/$/, '')
  if (path !== '' && path !== '.') {
    const segments = path.split('/')
    if (segments.includes('..')) throw fail('leaves the bundle (a `..` in its path)')
    if (segments.some((segment) => segment === '' || segment === '.'))
      throw fail('has an empty or `.` segment in its path')
  } else path = ''
  if (directory) {
    if (!DIRECTORIES.test(path)) throw fail('is a directory a bundle does not have')
    return { kind: 'directory', path }
  }
  if (path === MANIFEST_PATH) return { kind: 'manifest', path }
  const rows = ROWS.exec(path)
  if (rows) {
    const table = rows[1] as BundleTableName
    if (!BUNDLE_TABLE_NAMES.includes(table)) throw fail('holds rows of a table a bundle does not carry')
    return { kind: 'rows', path, table }
  }
  const blob = BLOB.exec(path)
  if (blob) {
    const [, fan, hash, lz4] = blob as unknown as [string, string, string, string | undefined]
    if (!hash.startsWith(fan)) throw fail('is a blob file in the wrong directory')
    return { kind: 'blob', path, hash, encoding: lz4 ? 'lz4-frames' : 'raw' }
  }
  throw fail('is not part of a bundle (expected manifest.json, rows/<table>.jsonl or blobs/sha256/…)')
}
