import { HiveStorageError } from '@hive/errors'

/** Longest search text accepted, and most terms used from it. */
export const MAX_QUERY_LENGTH = 1000
export const MAX_QUERY_TERMS = 32

const WORDY = /[\p{L}\p{N}]/u

/**
 * Turns what a user typed into a safe FTS5 expression: every word and "quoted phrase" becomes an
 * FTS5 string (so `AND`, `NEAR`, `-`, `:`, `(`, `^` and stray quotes are plain text, never
 * syntax), a trailing `*` on a word or phrase keeps its meaning of prefix search, and the terms
 * must all match (implicit AND). Returns null when nothing searchable is left.
 *
 * @example
 * ```ts
 * userQuery('fix "login page" auth*') // '"fix" "login page" "auth"*'
 * userQuery('NOT (x) OR "') // '"NOT" "x" "OR"'
 * ```
 */
export function userQuery(text: string, options: { prefixLast?: boolean } = {}): string | null {
  if (typeof text !== 'string')
    throw new HiveStorageError('INVALID_INPUT', 'search text must be a string', { value: text })
  if (text.length > MAX_QUERY_LENGTH) {
    throw new HiveStorageError('INVALID_INPUT', `search text is longer than ${MAX_QUERY_LENGTH} characters`, {
      value: text.length,
    })
  }
  const terms: string[] = []
  const pattern = /"([^"]*)("?)(\*?)|(\S+)/g
  // FTS5 reads its query as a C string: a NUL would end it early. Control characters are noise.
  for (const match of text.replace(/\p{Cc}/gu, ' ').matchAll(pattern)) {
    const [, phrase, , phraseStar, word] = match
    let body = (phrase ?? word ?? '').trim()
    let prefix = phraseStar === '*'
    if (word !== undefined) {
      prefix = /\*+$/.test(word)
      body = word.replace(/\*+$/, '')
    }
    if (!WORDY.test(body)) continue
    terms.push(`"${body.replaceAll('"', '""')}"${prefix ? '*' : ''}`)
    if (terms.length === MAX_QUERY_TERMS) break
  }
  if (terms.length === 0) return null
  if (options.prefixLast && !terms[terms.length - 1]?.endsWith('*')) terms[terms.length - 1] += '*'
  return terms.join(' ')
}

/** An FTS5 string literal for an exact value (an id, a kind). */
export function ftsString(value: string): string {
  return `"${value.replaceAll('"', '""')}"`
}

/** The fields of the search index's `filters` column and the letter each token starts with. */
const FILTER_FIELDS = { kind: 'k', cellId: 'c', workspaceId: 'w', cellType: 't' } as const

/**
 * An FTS5 string literal for a filter value's token in the `filters` column (migration 0002): the
 * field's letter, then the value's UTF-8 bytes in lower-case hex. One exact token per value: the
 * tokenizer can neither split it nor fold its case, and no title or body word looks like it.
 *
 * @example
 * ```ts
 * `filters : ${filterTerm('kind', 'text')}` // 'filters : "k74657874"'
 * ```
 */
export function filterTerm(field: keyof typeof FILTER_FIELDS, value: string): string {
  return `"${FILTER_FIELDS[field]}${Buffer.from(value, 'utf8').toString('hex')}"`
}
