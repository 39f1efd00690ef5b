import { closeSync, openSync, readSync } from 'node:fs'
import { bundleInvalid } from './bundle-invalid.js'

/**
 * The lines of a JSON-lines file, read synchronously in chunks of a fixed size (so that a
 * synchronous SQLite transaction can consume them) with memory bounded by the longest line.
 * `where` names the file in errors. Every line must end with a newline.
 */
export function* jsonLines(
  path: string,
  where: string,
  maxLineBytes: number,
  chunkBytes = 1024 * 1024,
): Generator<string> {
  const fd = openSync(path, 'r')
  try {
    const chunk = Buffer.allocUnsafe(chunkBytes)
    let carry: Buffer[] = []
    let carryBytes = 0
    let line = 0
    for (;;) {
      const read = readSync(fd, chunk, 0, chunkBytes, null)
      if (read === 0) break
      let start = 0
      for (;;) {
        const end = chunk.indexOf(0x0a, start)
        if (end < 0 || end >= read) break
        line += 1
        const piece = chunk.subarray(start, end)
        if (carryBytes + piece.length > maxLineBytes) throw tooLong(where, line, maxLineBytes)
        const bytes = carryBytes === 0 ? piece : Buffer.concat([...carry, piece], carryBytes + piece.length)
        carry = []
        carryBytes = 0
        yield bytes.toString('utf8')
        start = end + 1
      }
      if (start < read) {
        // Copied: the chunk buffer is reused by the next read.
        carry.push(Buffer.from(chunk.subarray(start, read)))
        carryBytes += read - start
        if (carryBytes > maxLineBytes) throw tooLong(where, line + 1, maxLineBytes)
      }
    }
    if (carryBytes > 0) throw bundleInvalid(`${where}: line ${line + 1} does not end with a newline`, where)
  } finally {
    closeSync(fd)
  }
}

function tooLong(where: string, line: number, max: number) {
  return bundleInvalid(`${where}: line ${line} is longer than ${max} bytes`, where)
}
