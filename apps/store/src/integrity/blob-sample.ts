import { HiveStorageError } from '@hive/errors'

/** How many blobs a check verifies: a number of them, or a percentage, picked at random. */
export type BlobSample = { readonly count: number } | { readonly percent: number }

/**
 * Parses `--sample`: a whole number of blobs (`200`) or a percentage (`10%`, up to `100%`).
 *
 * @example
 * ```ts
 * parseBlobSample('10%') // { percent: 10 }
 * parseBlobSample('200') // { count: 200 }
 * ```
 */
export function parseBlobSample(text: string): BlobSample {
  const trimmed = text.trim()
  const percent = trimmed.match(/^(\d{1,3}(?:\.\d{1,3})?)%$/)
  if (percent) {
    const value = Number(percent[1])
    if (value > 0 && value <= 100) return { percent: value }
  } else if (/^\d{1,9}$/.test(trimmed) && Number(trimmed) >= 1) {
    return { count: Number(trimmed) }
  }
  throw new HiveStorageError(
    'INVALID_INPUT',
    `--sample must be a number of blobs (at least 1) or a percentage above 0% and up to 100%, not ${JSON.stringify(text)}`,
    { value: text },
  )
}

/** Validates a sample given from code (the same rules as {@link parseBlobSample}). */
export function checkBlobSample(sample: BlobSample): BlobSample {
  const valid =
    'count' in sample
      ? Number.isSafeInteger(sample.count) && sample.count >= 1
      : Number.isFinite(sample.percent) && sample.percent > 0 && sample.percent <= 100
  if (!valid) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `sample must be { count } of at least 1 or { percent } above 0 and up to 100, not ${JSON.stringify(sample)}`,
      { value: sample },
    )
  }
  return sample
}

/** Picks `sample`'s share of `items` at random (a partial Fisher–Yates shuffle); all of them without one. */
export function pickSample<T>(
  items: readonly T[],
  sample: BlobSample | undefined,
  random: () => number,
): T[] {
  if (!sample) return [...items]
  const wanted = Math.min(
    items.length,
    'count' in sample ? sample.count : Math.ceil((items.length * sample.percent) / 100),
  )
  const pool = [...items]
  for (let i = 0; i < wanted; i++) {
    const j = i + Math.floor(random() * (pool.length - i))
    const picked = pool[j] as T
    pool[j] = pool[i] as T
    pool[i] = picked
  }
  return pool.slice(0, wanted)
}
