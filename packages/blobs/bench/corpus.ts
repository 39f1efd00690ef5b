// A corpus of real text for the blob benchmarks, made at bench time (never committed): the
// diffs of this repository's history (`git log -p`) and source files of the installed
// dependencies, in a fixed order.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const TEXT = /\.(js|mjs|cjs|ts|mts|cts|map|md|json|txt|d\.ts)$/

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, out)
    else if (entry.isFile() && TEXT.test(entry.name)) out.push(path)
  }
}

export interface Corpus {
  /** The files, each a blob of the many-files benchmark. */
  readonly files: readonly string[]
  /** All of them concatenated, for the bulk benchmark. */
  readonly joined: string
  readonly bytes: number
}

export function makeCorpus(repository: string, dir: string, targetBytes: number): Corpus {
  const files: string[] = []
  let bytes = 0
  const history = execFileSync('git', ['-C', repository, 'log', '-p', '--no-color'], { maxBuffer: 1 << 30 })
  for (let i = 0, n = 0; i < history.length; i += 256 * 1024, n++) {
    const path = join(dir, `history-${n}.diff`)
    writeFileSync(path, history.subarray(i, i + 256 * 1024))
    files.push(path)
    bytes += Math.min(256 * 1024, history.length - i)
  }
  const sources: string[] = []
  walk(join(repository, 'node_modules', '.pnpm'), sources)
  for (const path of sources) {
    if (bytes >= targetBytes) break
    const size = statSync(path).size
    if (size === 0 || size > 8 * 1024 * 1024) continue
    files.push(path)
    bytes += size
  }
  const joined = join(dir, 'corpus.txt')
  writeFileSync(joined, Buffer.concat(files.map((file) => readFileSync(file))))
  return { files, joined, bytes }
}
