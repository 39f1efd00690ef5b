import { HiveStorageError } from '@hive/errors'

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to callers (base64url JSON
 * with a version), validated when it comes back.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify({ v: 1, k: key })).toString('base64url')
}

export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  const invalid = () =>
    new HiveStorageError(
      'INVALID_INPUT',
      'invalid cursor: pass back a nextCursor exactly as it was returned',
      { value: cursor },
    )
  if (
    typeof cursor !== 'string' ||
    cursor.length === 0 ||
    cursor.length > 1024 ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  )
    throw invalid()
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid()
  }
  const key = (parsed as { v?: unknown; k?: unknown })?.k
  if ((parsed as { v?: unknown })?.v !== 1 || !Array.isArray(key) || key.length !== shape.length)
    throw invalid()
  if (!key.every((value, i) => typeof value === shape[i])) throw invalid()
  return key as (string | number)[]
}
