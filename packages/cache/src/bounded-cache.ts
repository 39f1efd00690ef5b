import { LRUCache } from 'lru-cache'
import { z } from 'zod'

export const limitsSchema = z
  .object({
    /** Most entries held (least recently used go first). */
    maxEntries: z.int().min(1).max(10_000_000),
    /** Most bytes held, as estimated per entry. */
    maxBytes: z
      .int()
      .min(1024)
      .max(64 * 2 ** 30),
    /** Entries older than this are not served (0: no limit). */
    ttlMs: z.int().min(0).max(2_147_483_647).default(0),
  })
  .strict()

export type CacheLimits = z.input<typeof limitsSchema>

export interface CacheNamespaceStats {
  readonly hits: number
  readonly misses: number
  /** Entries dropped to stay within the limits (not invalidations). */
  readonly evictions: number
  /** Entries dropped because a write or another process made them stale. */
  readonly invalidations: number
  readonly entries: number
  readonly bytes: number
}

/**
 * One kind of cached value: an LRU bounded in entries and bytes, with an optional TTL, and a
 * generation that every invalidation moves on. A read that missed stores its result only if no
 * invalidation happened while it ran, so a value read before a write committed can never be
 * stored after the write invalidated it.
 */
export class BoundedCache<V extends object> {
  readonly #lru: LRUCache<string, V>
  /** Keys by a tag (a session, a cell…), for invalidating a group of entries. */
  readonly #tagged = new Map<string, Set<string>>()
  readonly #tagsOf = new Map<string, readonly string[]>()
  #generation = 0
  #hits = 0
  #misses = 0
  #evictions = 0
  #invalidations = 0

  constructor(limits: z.output<typeof limitsSchema>) {
    this.#lru = new LRUCache<string, V>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      // Sizes are given with each set.
      sizeCalculation: () => 1,
      ...(limits.ttlMs > 0 ? { ttl: limits.ttlMs } : {}),
      disposeAfter: (_value, key, reason) => {
        if (reason === 'evict' || reason === 'expire') {
          if (reason === 'evict') this.#evictions += 1
          this.#untag(key)
        }
      },
    })
  }

  get generation(): number {
    return this.#generation
  }

  get(key: string): V | undefined {
    const value = this.#lru.get(key)
    if (value === undefined) this.#misses += 1
    else this.#hits += 1
    return value
  }

  /** Stores a value read while the generation was `generation`; refused if it moved since. */
  set(key: string, value: V, bytes: number, generation: number, tags: readonly string[] = []): void {
    if (generation !== this.#generation) return
    // A value larger than the whole cache is not kept (lru-cache would refuse it anyway).
    if (bytes > this.#lru.maxSize) return
    this.#lru.set(key, value, { size: Math.max(1, Math.ceil(bytes)) })
    if (tags.length > 0 && this.#lru.has(key)) {
      this.#untag(key)
      this.#tagsOf.set(key, tags)
      for (const tag of tags) {
        const keys = this.#tagged.get(tag)
        if (keys) keys.add(key)
        else this.#tagged.set(tag, new Set([key]))
      }
    }
  }

  delete(key: string): void {
    this.#generation += 1
    if (this.#lru.delete(key)) this.#invalidations += 1
    this.#untag(key)
  }

  /** Drops every entry stored with `tag`. */
  deleteTagged(tag: string): void {
    this.#generation += 1
    for (const key of [...(this.#tagged.get(tag) ?? [])]) {
      if (this.#lru.delete(key)) this.#invalidations += 1
      this.#untag(key)
    }
  }

  clear(): void {
    this.#generation += 1
    this.#invalidations += this.#lru.size
    this.#lru.clear()
    this.#tagged.clear()
    this.#tagsOf.clear()
  }

  stats(): CacheNamespaceStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      invalidations: this.#invalidations,
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
    }
  }

  #untag(key: string): void {
    const tags = this.#tagsOf.get(key)
    if (!tags) return
    this.#tagsOf.delete(key)
    for (const tag of tags) {
      const keys = this.#tagged.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.#tagged.delete(tag)
    }
  }
}
