import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'

export interface Measurement {
  readonly name: string
  /** Operations per second: the median over the rounds. */
  readonly opsPerSecond: number
  /** Mean time of one operation in microseconds, from the median round. */
  readonly microsPerOp: number
  readonly rounds: number
}

/**
 * Measures several variants of the same work in one run, interleaved round by round so that
 * machine noise hits them alike; reports the median round of each. Compare the ratios between
 * variants, not absolute figures: the machines are shared.
 */
export async function compare(
  variants: Record<string, (ops: number) => unknown | Promise<unknown>>,
  options: { ops: number; rounds?: number; warmup?: number },
): Promise<Measurement[]> {
  const rounds = options.rounds ?? 7
  const names = Object.keys(variants)
  const times = new Map<string, number[]>(names.map((name) => [name, []]))
  for (const name of names) await variants[name]?.(options.warmup ?? Math.ceil(options.ops / 10))
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so no variant always runs first (or right after garbage collection).
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] as string
      const started = process.hrtime.bigint()
      await variants[name]?.(options.ops)
      times.get(name)?.push(Number(process.hrtime.bigint() - started) / 1e9)
    }
  }
  return names.map((name) => {
    const sorted = [...(times.get(name) ?? [])].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] as number
    return { name, opsPerSecond: options.ops / median, microsPerOp: (median / options.ops) * 1e6, rounds }
  })
}

/** A short description of the machine and runtime, for results files. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `Node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}`
}

/** A Markdown table of measurements with each variant's ratio to `baseline`. */
export function table(measurements: readonly Measurement[], baseline: string): string {
  const base = measurements.find((m) => m.name === baseline)
  const rows = measurements.map((m) => {
    const ratio = base ? (m.opsPerSecond / base.opsPerSecond).toFixed(2) : '—'
    return `| ${m.name} | ${Math.round(m.opsPerSecond).toLocaleString('en-US')} | ${m.microsPerOp.toFixed(2)} | ${ratio}× |`
  })
  return ['| variant | ops/s | µs/op | vs raw |', '|---|---:|---:|---:|', ...rows].join('\n')
}

/**
 * Replaces the text between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->` in a Markdown file
 * (the README quotes benchmark results this way). Throws if the markers are missing.
 */
export function replaceSection(file: string, key: string, content: string): void {
  const text = readFileSync(file, 'utf8')
  const start = `<!-- bench:${key} -->`
  const end = `<!-- /bench:${key} -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} … ${end} section`)
  writeFileSync(file, `${text.slice(0, from + start.length)}\n${content.trim()}\n${text.slice(to)}`)
}
