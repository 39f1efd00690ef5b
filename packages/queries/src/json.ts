import { HiveStorageError } from '@hive/errors'
import { MAX_JSON_BYTES } from '@hive/schema'

/** JSON text for a column, bounded in size. */
export function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value ?? {})
  if (Buffer.byteLength(text) > MAX_JSON_BYTES) {
    throw new HiveStorageError('INVALID_INPUT', `${what} is larger than ${MAX_JSON_BYTES} bytes of JSON`, {
      value: what,
    })
  }
  return text
}

/** Parses a JSON column (written by Hive, so it parses; a damaged one reads as null). */
export function fromJson<T>(text: string | null): T | null {
  if (text === null) return null
  try {
    return JSON.parse(text) as T
  } catch {
    return null
  }
}
