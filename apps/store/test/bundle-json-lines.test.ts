import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { jsonLines } from '../src/bundle/json-lines.js'

function file(content: string | Buffer): string {
  const path = join(tempDir(), 'rows.jsonl')
  writeFileSync(path, content)
  return path
}

describe('jsonLines', () => {
  it('reads lines across chunk boundaries, multi-byte characters split between chunks included', () => {
    const lines = ['{"a":"ä€𝄞"}', '', 'x'.repeat(50), '{"b":"日本語テキスト"}', '🐝']
    const path = file(lines.map((l) => `${l}\n`).join(''))
    for (const chunk of [1, 2, 3, 5, 7, 64, 1024 * 1024]) {
      expect([...jsonLines(path, 'rows.jsonl', 1000, chunk)], `chunk ${chunk}`).toEqual(lines)
    }
  })

  it('reads nothing from an empty file', () => {
    expect([...jsonLines(file(''), 'rows.jsonl', 1000, 4)]).toEqual([])
  })

  it('refuses a line longer than the limit, whole or split across chunks', () => {
    const path = file(`short\n${'y'.repeat(40)}\nafter\n`)
    for (const chunk of [4, 1024]) {
      expect(() => [...jsonLines(path, 'rows/x.jsonl', 30, chunk)]).toThrow(
        /rows\/x\.jsonl: line 2 is longer than 30 bytes/,
      )
    }
  })

  it('refuses a last line without its newline', () => {
    expect(() => [...jsonLines(file('{"a":1}\n{"b":2}'), 'rows/x.jsonl', 100, 3)]).toThrow(
      /rows\/x\.jsonl: line 2 does not end with a newline/,
    )
  })
})
