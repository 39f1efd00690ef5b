/** Where a string sits in an object: keys and array indexes from the root. */
export type Path = ReadonlyArray<string | number>

export interface CutPlan {
  /** The strings to cut, largest first, with their size in bytes. */
  readonly strings: ReadonlyArray<{ readonly path: Path; readonly bytes: number }>
}

/**
 * Which strings of `object` to move out so that it stays small: every string over `spillBytes`,
 * then (if the object's JSON would still be over `maxBytes`) the largest of the rest, until it
 * fits. Undefined when nothing needs to move. `jsonBytes` is the size of the object's JSON.
 */
export function planCut(
  object: unknown,
  jsonBytes: number,
  options: { spillBytes: number; previewBytes: number; maxBytes: number },
): CutPlan | undefined {
  // Strings that cutting to a preview (plus a note of ~100 bytes) makes meaningfully smaller.
  const floor = options.previewBytes + 256
  const candidates: Array<{ path: Path; bytes: number }> = []
  const visit = (value: unknown, path: Array<string | number>) => {
    if (typeof value === 'string') {
      // A string of n characters has at most 3n bytes: most are ruled out without counting.
      if (value.length * 3 > floor) {
        const bytes = Buffer.byteLength(value)
        if (bytes > floor) candidates.push({ path: [...path], bytes })
      }
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        path.push(i)
        visit(value[i], path)
        path.pop()
      }
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        path.push(key)
        visit((value as Record<string, unknown>)[key], path)
        path.pop()
      }
    }
  }
  visit(object, [])
  if (candidates.length === 0) return undefined
  candidates.sort((a, b) => b.bytes - a.bytes)
  let estimate = jsonBytes
  const strings: Array<{ path: Path; bytes: number }> = []
  for (const candidate of candidates) {
    if (candidate.bytes <= options.spillBytes && estimate <= options.maxBytes) break
    strings.push(candidate)
    estimate -= candidate.bytes - floor
  }
  return strings.length === 0 ? undefined : { strings }
}

/** The value at `path`. */
export function valueAt(object: unknown, path: Path): unknown {
  let value = object
  for (const key of path) value = (value as Record<string | number, unknown>)[key]
  return value
}

/**
 * `object` with the value at each path replaced, copying only the objects and arrays on the
 * paths: the original (the caller's input) is left as it was.
 */
export function withReplaced(object: unknown, replacements: ReadonlyArray<[Path, unknown]>): unknown {
  let root = object
  for (const [path, replacement] of replacements) root = replaceAt(root, path, 0, replacement)
  return root
}

function replaceAt(value: unknown, path: Path, depth: number, replacement: unknown): unknown {
  if (depth === path.length) return replacement
  const key = path[depth] as string | number
  if (Array.isArray(value)) {
    const copy: unknown[] = [...value]
    copy[key as number] = replaceAt(copy[key as number], path, depth + 1, replacement)
    return copy
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  copy[key] = replaceAt(copy[key], path, depth + 1, replacement)
  return copy
}
