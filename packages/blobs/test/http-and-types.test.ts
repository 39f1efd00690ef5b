import { describe, expect, it } from 'vitest'
import { contentRangeHeader, contentTypeFor, parseRangeHeader } from '../src/index.js'

describe('parseRangeHeader', () => {
  it('reads the single-range forms of RFC 9110', () => {
    expect(parseRangeHeader('bytes=0-99', 1000)).toEqual({ start: 0, end: 100 })
    expect(parseRangeHeader('bytes=900-', 1000)).toEqual({ start: 900, end: 1000 })
    expect(parseRangeHeader('bytes=-100', 1000)).toEqual({ start: 900, end: 1000 })
    expect(parseRangeHeader('bytes=-5000', 1000)).toEqual({ start: 0, end: 1000 })
    expect(parseRangeHeader('bytes=990-5000', 1000)).toEqual({ start: 990, end: 1000 })
  })

  it('says unsatisfiable (416) for ranges past the end', () => {
    expect(parseRangeHeader('bytes=1000-', 1000)).toBe('unsatisfiable')
    expect(parseRangeHeader('bytes=-0', 1000)).toBe('unsatisfiable')
    expect(contentRangeHeader('unsatisfiable', 1000)).toBe('bytes */1000')
  })

  it('ignores what it does not serve: no header, other units, several ranges, nonsense', () => {
    for (const header of [undefined, '', 'items=0-1', 'bytes=0-1,5-6', 'bytes=5-1', 'bytes=-', 'bytes=a-b']) {
      expect(parseRangeHeader(header, 1000)).toBeUndefined()
    }
  })

  it('writes Content-Range', () => {
    expect(contentRangeHeader({ start: 0, end: 100 }, 1000)).toBe('bytes 0-99/1000')
  })
})

describe('contentTypeFor', () => {
  it('derives content types from names', () => {
    expect(contentTypeFor('build.log')).toBe('text/plain; charset=utf-8')
    expect(contentTypeFor('changes.DIFF')).toBe('text/x-diff; charset=utf-8')
    expect(contentTypeFor('data.json')).toBe('application/json')
    expect(contentTypeFor('mystery')).toBe('application/octet-stream')
    expect(contentTypeFor(undefined)).toBe('application/octet-stream')
  })
})
