import { createHash } from 'node:crypto'

/**
 * The checksum of a migration's source text: SHA-256 over the text with line endings made `\n`,
 * so a checkout with CRLF line endings does not read as a modification.
 */
export function checksumSource(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n?/g, '\n')).digest('hex')
}
