/** A byte range, `end` exclusive. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/**
 * Reads an HTTP `Range` header (RFC 9110 §14) for a resource of `size` bytes: the range to
 * serve (206), `'unsatisfiable'` (416), or `undefined` to serve everything (200): no header, a
 * header that is not a single `bytes` range (multiple ranges are allowed to be ignored), or one
 * that does not parse.
 *
 * @example
 * ```ts
 * parseRangeHeader('bytes=0-99', 1000)  // { start: 0, end: 100 }
 * parseRangeHeader('bytes=-100', 1000)  // { start: 900, end: 1000 }
 * parseRangeHeader('bytes=2000-', 1000) // 'unsatisfiable'
 * ```
 */
export function parseRangeHeader(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  const match = header?.trim().match(/^bytes=(\d*)-(\d*)$/)
  if (!match) return undefined
  const [, first, last] = match as unknown as [string, string, string]
  if (first === '' && last === '') return undefined
  // An empty resource has no byte to serve (RFC 9110: 416 for any range of it).
  if (size === 0) return 'unsatisfiable'
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size }
  }
  const start = Number(first)
  if (start >= size) return 'unsatisfiable'
  const end = last === '' ? size : Math.min(size, Number(last) + 1)
  if (end <= start) return undefined // last < first: invalid, ignore the header
  return { start, end }
}

/** The `Content-Range` header value for a served range, or for a 416 (`bytes *\/size`). */
export function contentRangeHeader(range: ByteRange | 'unsatisfiable', size: number): string {
  return range === 'unsatisfiable' ? `bytes */${size}` : `bytes ${range.start}-${range.end - 1}/${size}`
}
