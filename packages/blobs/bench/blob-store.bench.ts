// Benchmarks of the blob store on real text (see corpus.ts), every variant in one run:
//   ingest: BlobStore.put (SHA-256, LZ4, fsync, atomic rename) vs `lz4 -1`, gzip -6 (node:zlib)
//           and `git hash-object -w`, on one large file and on the corpus as many files;
//   read:   a verified full read vs `lz4 -dc`;
//   ratio and deduplication; and the scale run: 1 GiB written and read with peak RSS.
// Run: pnpm --filter @hive/blobs bench   (writes BENCHMARKS.md here and the README's summary)
import { execFileSync, spawnSync } from 'node:child_process'
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { machine, replaceSection } from '@hive/testing'
import { BlobStore } from '../src/index.js'
import { makeCorpus } from './corpus.js'

const here = new URL('..', import.meta.url).pathname
const repository = join(here, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'hive-blobs-bench-'))
const ROUNDS = 5
const MB = 1e6

function seconds(fn: () => void): number {
  const started = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - started) / 1e9
}
async function secondsAsync(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e9
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
const run = (command: string, args: string[], options: { cwd?: string; input?: string } = {}) => {
  const result = spawnSync(command, args, {
    ...options,
    stdio: ['pipe', 'ignore', 'inherit'],
    maxBuffer: 1 << 30,
  })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`)
}

console.log('making the corpus…')
const corpus = makeCorpus(repository, dir, 96 * MB)
const bytes = corpus.bytes
console.log(`corpus: ${corpus.files.length} files, ${(bytes / MB).toFixed(1)} MB`)
const gitRepo = join(dir, 'git')
mkdirSync(gitRepo)
execFileSync('git', ['init', '-q', gitRepo])

// ---- bulk: one large file ----
const store = new BlobStore({ root: join(dir, 'store', 'blobs') })
let hash = ''
run('lz4', ['-1', '-f', '-q', corpus.joined, join(dir, 'corpus.lz4')])
const put = await store.put(createReadStream(corpus.joined))

const read: Record<string, number[]> = {
  'BlobStore full read, verified': [],
  'BlobStore full read, unverified': [],
  'lz4 -dc': [],
}
// Reads are short and noisier: more rounds.
for (let round = 0; round < 3 * ROUNDS; round++) {
  for (const verify of [true, false]) {
    read[verify ? 'BlobStore full read, verified' : 'BlobStore full read, unverified']?.push(
      await secondsAsync(async () => {
        for await (const _chunk of (await store.open(put.hash, { verify })).stream()) {
          // consumed, as a response body would be
        }
      }),
    )
  }
  read['lz4 -dc']?.push(seconds(() => run('sh', ['-c', `lz4 -dc '${join(dir, 'corpus.lz4')}' > /dev/null`])))
}

const ingest: Record<string, number[]> = {
  'BlobStore.put': [],
  'lz4 -1': [],
  'gzip -6 (node:zlib)': [],
  'git hash-object -w': [],
}
for (let round = 0; round < ROUNDS; round++) {
  ingest['BlobStore.put']?.push(
    await secondsAsync(async () => {
      const result = await store.put(createReadStream(corpus.joined, { highWaterMark: 1 << 20 }))
      hash = result.hash
    }),
  )
  // The next round must do the whole write again, not find the blob stored.
  rmSync((await store.stat(hash)).path)
  ingest['lz4 -1']?.push(
    seconds(() => run('lz4', ['-1', '-f', '-q', corpus.joined, join(dir, 'corpus.lz4')])),
  )
  ingest['gzip -6 (node:zlib)']?.push(
    await secondsAsync(() =>
      pipeline(
        createReadStream(corpus.joined),
        createGzip({ level: 6 }),
        createWriteStream(join(dir, 'corpus.gz')),
      ),
    ),
  )
  rmSync(join(gitRepo, '.git', 'objects'), { recursive: true, force: true })
  mkdirSync(join(gitRepo, '.git', 'objects'))
  ingest['git hash-object -w']?.push(
    seconds(() => run('git', ['hash-object', '-w', corpus.joined], { cwd: gitRepo })),
  )
}
const stored = {
  'BlobStore (LZ4 frames)': put.storedSize,
  'lz4 -1': statSync(join(dir, 'corpus.lz4')).size,
  'gzip -6': statSync(join(dir, 'corpus.gz')).size,
}

// ---- many files: one blob per file ----
const manyTimes: Record<string, number[]> = {
  'BlobStore.put per file': [],
  'lz4 -1 -m (one process)': [],
  'git hash-object -w --stdin-paths': [],
}
// lz4 -m writes FILE.lz4 beside each input: it gets copies in a scratch dir, made once (not timed).
const lz4Out = join(dir, 'lz4-many')
mkdirSync(lz4Out)
const copies = corpus.files.map((file, i) => {
  writeFileSync(join(lz4Out, `${i}`), readFileSync(file))
  return join(lz4Out, `${i}`)
})
execFileSync('sync')
for (let round = 0; round < 3; round++) {
  rmSync(join(dir, 'many'), { recursive: true, force: true })
  const store2 = new BlobStore({ root: join(dir, 'many', 'blobs') })
  manyTimes['BlobStore.put per file']?.push(
    await secondsAsync(async () => {
      for (const file of corpus.files) await store2.put(readFileSync(file))
    }),
  )
  for (const copy of copies) rmSync(`${copy}.lz4`, { force: true })
  manyTimes['lz4 -1 -m (one process)']?.push(seconds(() => run('lz4', ['-1', '-f', '-q', '-m', ...copies])))
  rmSync(join(gitRepo, '.git', 'objects'), { recursive: true, force: true })
  mkdirSync(join(gitRepo, '.git', 'objects'))
  manyTimes['git hash-object -w --stdin-paths']?.push(
    seconds(() =>
      run('git', ['hash-object', '-w', '--stdin-paths'], {
        cwd: gitRepo,
        input: `${corpus.files.join('\n')}\n`,
      }),
    ),
  )
}
const manyStats = await new BlobStore({ root: join(dir, 'many', 'blobs') }).stats()

// ---- deduplication: the corpus twice ----
const dedupStore = new BlobStore({ root: join(dir, 'dedup', 'blobs') })
let deduplicated = 0
for (let pass = 0; pass < 2; pass++) {
  for (const file of corpus.files)
    if ((await dedupStore.put(readFileSync(file))).deduplicated) deduplicated += 1
}
const dedupStats = await dedupStore.stats({ references: new Map() })
const distinct = dedupStats.count

// ---- scale: 1 GiB through a stream, peak RSS ----
const GiB = 1024 ** 3
const scale = new BlobStore({ root: join(dir, 'scale', 'blobs') })
const chunk = readFileSync(corpus.joined).subarray(0, 1 << 20)
async function* gibibyte() {
  // One buffer, changed a little each time so the content is not one repeated MiB. Reusing it is
  // safe: put copies what it needs before asking for the next chunk.
  const piece = Buffer.from(chunk)
  for (let done = 0; done < GiB; done += chunk.length) {
    piece.writeUInt32LE(done / chunk.length, 0)
    yield piece
  }
}
global.gc?.()
const baseline = process.memoryUsage().rss
let peak = baseline
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 5)
const scaleWrite = await secondsAsync(async () => {
  hash = (await scale.put(gibibyte())).hash
})
const writePeak = peak - baseline
peak = process.memoryUsage().rss
const readBaseline = peak
const scaleRead = await secondsAsync(async () => {
  for await (const _chunk of (await scale.open(hash)).stream()) {
    // consumed
  }
})
clearInterval(sampler)
const readPeak = peak - readBaseline
rmSync(dir, { recursive: true, force: true })

// ---- report ----
const rate = (times: number[], n = bytes) => n / MB / median(times)
const ratioTo = (times: number[], base: number[]) => (median(base) / median(times)).toFixed(2)
const ingestRows = Object.entries(ingest).map(
  ([name, times]) => `| ${name} | ${rate(times).toFixed(0)} | ${ratioTo(times, ingest['lz4 -1'] ?? [])}× |`,
)
const readRows = Object.entries(read).map(
  ([name, times]) => `| ${name} | ${rate(times).toFixed(0)} | ${ratioTo(times, read['lz4 -dc'] ?? [])}× |`,
)
const manyRows = Object.entries(manyTimes).map(
  ([name, times]) =>
    `| ${name} | ${rate(times).toFixed(0)} | ${(corpus.files.length / median(times)).toFixed(0)} | ${ratioTo(times, manyTimes['lz4 -1 -m (one process)'] ?? [])}× |`,
)
const ratioRows = Object.entries(stored).map(
  ([name, size]) => `| ${name} | ${(size / MB).toFixed(1)} | ${(size / bytes).toFixed(3)} |`,
)
const ingestRatio = Number(ratioTo(ingest['BlobStore.put'] ?? [], ingest['lz4 -1'] ?? []))
const readRatio = Number(ratioTo(read['BlobStore full read, verified'] ?? [], read['lz4 -dc'] ?? []))

const summary = [
  `Blob store on ${(bytes / MB).toFixed(0)} MB of real text (${machine()}), medians of ${ROUNDS} interleaved rounds (${3 * ROUNDS} for reads):`,
  '',
  `- ingest (SHA-256 + LZ4 frames + fsync + atomic rename) runs at **${ingestRatio.toFixed(2)}×** \`lz4 -1\` (target ≥ 0.8×)`,
  `- a full, hash-verified read runs at **${readRatio.toFixed(2)}×** \`lz4 -dc\` (target ≥ 0.8×)`,
  `- stored size ${(put.storedSize / bytes).toFixed(3)} of the original (lz4 -1: ${(stored['lz4 -1'] / bytes).toFixed(3)}, gzip -6: ${(stored['gzip -6'] / bytes).toFixed(3)})`,
  `- 1 GiB written from a stream with **${(writePeak / 2 ** 20).toFixed(0)} MiB** of peak RSS growth and read back with ${(readPeak / 2 ** 20).toFixed(0)} MiB (target < 100 MB)`,
].join('\n')

writeFileSync(
  join(here, 'BENCHMARKS.md'),
  `# @hive/blobs benchmarks

Written by \`pnpm --filter @hive/blobs bench\` (bench/blob-store.bench.ts). The corpus is made at
bench time from this repository's history (\`git log -p\`) and the installed dependencies' source
files. Compare the ratios, measured in one run on the same bytes, not the absolute figures: the
machine is shared.

${summary}

## Ingest of one ${(bytes / MB).toFixed(0)} MB file

BlobStore.put compresses (LZ4 blocks in standard frames) on the main thread while a worker thread
hashes (SHA-256), writes a temp file, fsyncs it, links it into place and fsyncs the directory.
The others do not fsync.

| variant | MB/s | vs lz4 -1 |
|---|---:|---:|
${ingestRows.join('\n')}

## Full read

| variant | MB/s | vs lz4 -dc |
|---|---:|---:|
${readRows.join('\n')}

## Compression

| format | stored MB | of original |
|---|---:|---:|
${ratioRows.join('\n')}

## The corpus as ${corpus.files.length} files (one blob each)

Every BlobStore.put is durable on its own (two fsyncs); lz4 and git write without fsync.

| variant | MB/s | files/s | vs lz4 -1 -m |
|---|---:|---:|---:|
${manyRows.join('\n')}

Stored: ${manyStats.count} blobs, ${(manyStats.storedBytes / MB).toFixed(1)} MB for ${(manyStats.logicalBytes / MB).toFixed(1)} MB (${manyStats.byEncoding['lz4-frames']} compressed, ${manyStats.byEncoding.raw} stored as is).

## Deduplication

The corpus stored twice: ${deduplicated} of ${corpus.files.length * 2} puts found their content already stored; the store holds ${distinct} blobs (${(dedupStats.storedBytes / MB).toFixed(1)} MB) for ${((2 * bytes) / MB).toFixed(1)} MB written.

## Scale

| | seconds | MB/s | peak RSS growth |
|---|---:|---:|---:|
| write 1 GiB from a stream | ${scaleWrite.toFixed(1)} | ${(GiB / MB / scaleWrite).toFixed(0)} | ${(writePeak / 2 ** 20).toFixed(0)} MiB |
| read it back, verified | ${scaleRead.toFixed(1)} | ${(GiB / MB / scaleRead).toFixed(0)} | ${(readPeak / 2 ** 20).toFixed(0)} MiB |
`,
)
replaceSection(join(repository, 'README.md'), 'blobs', summary)
console.log(summary)
