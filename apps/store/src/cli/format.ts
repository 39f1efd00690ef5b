import Table from 'cli-table3'

/** Small text helpers for the command line: tables (cli-table3), times and sizes. */

/** Aligned columns without borders; the first row is the header when `head` is set. */
export function table(rows: readonly (readonly string[])[], options: { head?: boolean } = {}): string {
  const [first, ...rest] = rows
  const chars = Object.fromEntries(
    [
      'top',
      'top-mid',
      'top-left',
      'top-right',
      'bottom',
      'bottom-mid',
      'bottom-left',
      'bottom-right',
      'left',
      'left-mid',
      'mid',
      'mid-mid',
      'right',
      'right-mid',
      'middle',
    ].map((name) => [name, name === 'middle' ? '  ' : '']),
  )
  const t = new Table({
    chars,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    ...(options.head && first ? { head: [...first] } : {}),
  })
  for (const row of options.head ? rest : rows) t.push([...row])
  return t
    .toString()
    .split('\n')
    .map((line) => `  ${line}`.trimEnd())
    .join('\n')
}

export function time(ms: number | null): string {
  return ms === null ? '' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** One line, whatever the message held. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
