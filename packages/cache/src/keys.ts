/**
 * A cache key for an argument: the same key only for arguments a service cannot tell apart, so
 * that a hit is what the service would have answered. Plain objects, arrays, strings, finite
 * numbers, booleans, null and undefined (kept, not dropped: `{ a: undefined }` is not `{}` to a
 * strict schema) are keyed; anything else (a Date, a Map, a getter, a class instance) is not
 * cached: undefined.
 */
export function keyOf(value: unknown): string | undefined {
  const parts: string[] = []
  return write(value, parts, 0) ? parts.join('') : undefined
}

function write(value: unknown, out: string[], depth: number): boolean {
  if (depth > 8) return false
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value))
      return true
    case 'number':
      if (!Number.isFinite(value) || Object.is(value, -0)) return false
      out.push(String(value))
      return true
    case 'boolean':
      out.push(value ? 't' : 'f')
      return true
    case 'undefined':
      out.push('u')
      return true
    case 'object': {
      if (value === null) {
        out.push('n')
        return true
      }
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false
        out.push('[')
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return false // a hole
          if (i > 0) out.push(',')
          if (!write(value[i], out, depth + 1)) return false
        }
        out.push(']')
        return true
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) return false
      if (Object.getOwnPropertySymbols(value).length > 0) return false
      out.push('{')
      const keys = Object.keys(value).sort()
      for (const [i, key] of keys.entries()) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key)
        if (!descriptor || !('value' in descriptor)) return false // a getter
        if (i > 0) out.push(',')
        out.push(JSON.stringify(key), ':')
        if (!write(descriptor.value, out, depth + 1)) return false
      }
      out.push('}')
      return true
    }
    default:
      return false
  }
}
