import { HiveStorageError } from '@hive/errors'

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to callers (base64url JSON
 * with a version), validated when it comes back. `scope` names the listing a cursor belongs to
 * (its order, its session…): a cursor passed to another listing is refused, not misread.
 */
export function encodeCursor(key: readonly (string | number)[], scope = ''): string {
  return Buffer.from(JSON.stringify(scope ? { v: 1, k: key, s: scope } : { v: 1, k: key })).toString(
    'base64url',
  )
}

/** The key of a cursor made by {@link encodeCursor}; numbers in it are safe integers. */
export function decodeCursor(
  cursor: string,
  shape: readonly ('string' | 'number')[],
  scope = '',
): (string | number)[] {
  const invalid = (why = 'pass back a nextCursor exactly as it was returned') =>
    new HiveStorageError('INVALID_INPUT', `invalid cursor: ${why}`, { value: cursor })
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
  const { v, k: key, s } = (parsed ?? {}) as { v?: unknown; k?: unknown; s?: unknown }
  if (v !== 1 || !Array.isArray(key) || key.length !== shape.length) throw invalid()
  const valid = key.every((value, i) =>
    shape[i] === 'number' ? Number.isSafeInteger(value) : typeof value === 'string',
  )
  if (!valid) throw invalid()
  if ((s ?? '') !== scope) throw invalid('it belongs to another listing (another order, filter or session)')
  return key as (string | number)[]
}
