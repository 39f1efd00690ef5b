import { z } from 'zod'

/** Crockford's base32 in lower case: sorts the same as the numbers it encodes. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const TIME_CHARS = 10 // 50 bits: milliseconds until the year 10889
const RANDOM_CHARS = 16 // 80 bits
const MAX_TIME = 2 ** 48 - 1

/** The prefix of every entity's ids. */
export const ID_PREFIXES = {
  workspace: 'ws',
  cell: 'cell',
  service: 'svc',
  plan: 'pln',
  planFeedback: 'pfb',
  session: 'ses',
  message: 'msg',
  part: 'prt',
  artifact: 'art',
  event: 'evt',
  metric: 'met',
  operation: 'op',
} as const
export type IdKind = keyof typeof ID_PREFIXES

export interface IdGeneratorOptions {
  /** Milliseconds since the epoch; `Date.now` by default. */
  readonly now?: () => number
  /** Fills a buffer with random bytes; `crypto.getRandomValues` by default. */
  readonly random?: (bytes: Uint8Array) => void
}

/**
 * Makes a generator of ids `<prefix>_<10 chars of time><16 chars of randomness>` (a ULID in lower
 * case). Ids sort by creation time and are strictly increasing per generator, also within one
 * millisecond and when the clock steps back, so keyset pagination over ids is stable.
 *
 * @example
 * ```ts
 * const next = createIdGenerator('cell')
 * next() < next() // true, always
 * ```
 */
export function createIdGenerator(prefix: string, options: IdGeneratorOptions = {}): () => string {
  const now = options.now ?? Date.now
  const random = options.random ?? ((bytes: Uint8Array) => crypto.getRandomValues(bytes))
  const digits = new Uint8Array(RANDOM_CHARS)
  const bytes = new Uint8Array(RANDOM_CHARS)
  let lastTime = -1

  return () => {
    let time = now()
    if (!Number.isSafeInteger(time) || time < 0 || time > MAX_TIME) {
      throw new RangeError(`id clock returned ${time}, not a millisecond timestamp`)
    }
    if (time > lastTime) {
      random(bytes)
      for (let i = 0; i < RANDOM_CHARS; i++) digits[i] = (bytes[i] as number) & 31
    } else {
      // Same millisecond (or the clock went back): count up from the last id.
      time = lastTime
      let i = RANDOM_CHARS - 1
      while (i >= 0 && digits[i] === 31) digits[i--] = 0
      if (i < 0) {
        time += 1 // 2^80 ids in one millisecond: borrow the next one
        random(bytes)
        for (let j = 0; j < RANDOM_CHARS; j++) digits[j] = (bytes[j] as number) & 31
      } else {
        digits[i] = (digits[i] as number) + 1
      }
    }
    lastTime = time

    let out = `${prefix}_`
    for (let i = TIME_CHARS - 1; i >= 0; i--) out += ALPHABET[Math.floor(time / 32 ** i) % 32]
    for (let i = 0; i < RANDOM_CHARS; i++) out += ALPHABET[digits[i] as number]
    return out
  }
}

/** The milliseconds timestamp encoded in an id made by {@link createIdGenerator}. */
export function idTime(id: string): number {
  const body = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 1 + TIME_CHARS)
  let time = 0
  for (const char of body) {
    const value = ALPHABET.indexOf(char)
    if (value < 0) throw new RangeError(`not an id: ${JSON.stringify(id)}`)
    time = time * 32 + value
  }
  return time
}

/** One generator per entity, e.g. `ids.cell()` → `cell_01jd…`. */
export const ids: { readonly [K in IdKind]: () => string } = Object.freeze(
  Object.fromEntries(
    Object.entries(ID_PREFIXES).map(([kind, prefix]) => [kind, createIdGenerator(prefix)]),
  ) as { [K in IdKind]: () => string },
)

const ID_BODY = /^[0-9a-zA-Z]{1,64}$/

/**
 * A zod schema for ids of one kind: the right prefix and a plain alphanumeric body. Ids that
 * come from OpenCode (`msg_…`, `prt_…`) have the same shape and are accepted as they are.
 */
export function idSchema(kind: IdKind): z.ZodString {
  const prefix = `${ID_PREFIXES[kind]}_`
  return z
    .string()
    .max(80)
    .refine((value) => value.startsWith(prefix) && ID_BODY.test(value.slice(prefix.length)), {
      message: `must be a ${kind} id (${prefix}…)`,
    }) as unknown as z.ZodString
}
