import { describe, expect, it } from 'vitest'
import { createIdGenerator, ID_PREFIXES, idSchema, ids, idTime } from '../src/index.js'

const T0 = Date.UTC(2026, 10, 26, 4, 47, 40, 123)

function fixedRandom(fill: number) {
  return (bytes: Uint8Array) => bytes.fill(fill)
}

describe('createIdGenerator', () => {
  it('makes prefixed ids of a fixed shape that encode the time', () => {
    const next = createIdGenerator('cell', { now: () => T0 })
    const id = next()
    expect(id).toMatch(/^cell_[0-9a-hjkmnp-tv-z]{26}$/)
    expect(idTime(id)).toBe(T0)
  })

  it('sorts ids by time', () => {
    let now = T0
    const next = createIdGenerator('evt', { now: () => now })
    const made: string[] = []
    for (let i = 0; i < 1000; i++) {
      now += i % 3 === 0 ? 1 : 1000
      made.push(next())
    }
    expect([...made].sort()).toEqual(made)
  })

  it('stays strictly increasing within one millisecond, even when the randomness is high', () => {
    const next = createIdGenerator('msg', { now: () => T0, random: fixedRandom(30) })
    const made = Array.from({ length: 5000 }, () => next())
    expect(new Set(made).size).toBe(made.length)
    for (let i = 1; i < made.length; i++) expect(made[i - 1]! < made[i]!).toBe(true)
    expect(made.every((id) => idTime(id) === T0)).toBe(true)
  })

  it('stays increasing when the clock steps back', () => {
    const times = [T0, T0 - 5000, T0 - 1, T0 + 1]
    const next = createIdGenerator('prt', { now: () => times.shift() as number })
    const made = [next(), next(), next(), next()]
    expect([...made].sort()).toEqual(made)
    expect(new Set(made).size).toBe(4)
    expect(idTime(made[3]!)).toBe(T0 + 1)
  })

  it('borrows the next millisecond when one millisecond runs out of ids', () => {
    // Randomness all ones except the last digit, which is near its top: overflow comes at once.
    let calls = 0
    const next = createIdGenerator('art', {
      now: () => T0,
      random: (bytes) => {
        calls += 1
        bytes.fill(31)
      },
    })
    const first = next()
    const second = next()
    expect(calls).toBe(2)
    expect(idTime(first)).toBe(T0)
    expect(idTime(second)).toBe(T0 + 1)
    expect(first < second).toBe(true)
  })

  it('rejects a clock that is not a millisecond timestamp', () => {
    expect(() => createIdGenerator('x', { now: () => Number.NaN })()).toThrow(RangeError)
    expect(() => createIdGenerator('x', { now: () => -1 })()).toThrow(RangeError)
  })

  it('keeps many ids unique with the real clock and randomness', () => {
    const made = Array.from({ length: 100_000 }, () => ids.message())
    expect(new Set(made).size).toBe(made.length)
    expect([...made].sort()).toEqual(made)
  })
})

describe('ids', () => {
  it('has one generator per entity with its prefix', () => {
    for (const [kind, prefix] of Object.entries(ID_PREFIXES)) {
      const id = ids[kind as keyof typeof ids]()
      expect(id.startsWith(`${prefix}_`)).toBe(true)
      expect(idSchema(kind as keyof typeof ids).safeParse(id).success).toBe(true)
    }
  })
})

describe('idSchema', () => {
  it('accepts OpenCode ids of the same kind and rejects others', () => {
    expect(idSchema('message').safeParse('msg_c2d1e65be00137urn23o7iXCt1').success).toBe(true)
    expect(idSchema('message').safeParse('prt_c2d1e65be00137urn23o7iXCt1').success).toBe(false)
    expect(idSchema('cell').safeParse('cell_').success).toBe(false)
    expect(idSchema('cell').safeParse('cell_abc; drop table cells').success).toBe(false)
    expect(idSchema('cell').safeParse(42).success).toBe(false)
  })
})

describe('idTime', () => {
  it('rejects what is not an id', () => {
    expect(() => idTime('cell_!!!!!!!!!!')).toThrow(RangeError)
  })
})
