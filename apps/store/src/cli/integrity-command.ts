import type { Command } from 'commander'
import { parseBlobSample } from '../integrity/blob-sample.js'
import { checkDataDir } from '../integrity/check-data-dir.js'
import type { CheckReport } from '../integrity/check-report.js'
import { type RecoverReport, recoverDatabase } from '../integrity/recover-database.js'
import { action, type CliState, command } from './context.js'
import { bytes, oneLine, table } from './format.js'

interface CheckCliOptions {
  full?: boolean
  repair?: boolean
  sample?: string
}

interface RecoverCliOptions {
  force?: boolean
}

/** `hive check` and `hive recover`. */
export function registerIntegrity(program: Command, state: CliState): void {
  command(
    program,
    'check',
    'check the database, the search index and the blobs (exit 1 when problems remain)',
  )
    .option('--full', 'integrity_check instead of quick_check: every index against its table (slower)')
    .option('--repair', 'repair what can be repaired safely, then check again')
    .option(
      '--sample <n|percent>',
      'verify N blobs, or a percentage of them, picked at random (default: all)',
    )
    .addHelpText(
      'after',
      `
Checks: the database's structure, foreign keys, the search index (FTS5's own check, and its
documents against their rows), every artifact's blob file, the blob files' content, and the
blob files and rows nothing refers to (listed; they are garbage, not problems).

--repair rebuilds the search index, moves corrupt blobs to quarantine/blobs/, marks the
artifacts of corrupt or missing blobs missing, recreates lost blobs rows and workspaces,
clears or deletes rows that refer to lost rows (as the schema's ON DELETE would; the database
is snapshotted first), then checks again. A damaged database is never written to: run
\`hive recover\`. See docs/recovery.md.`,
    )
    .action(
      action<CheckCliOptions>(state, async (context, options) => {
        // Checked before anything is opened.
        const sample = options.sample === undefined ? undefined : parseBlobSample(options.sample)
        const bar = context.progress('check')
        let report: CheckReport
        try {
          report = await checkDataDir({
            dataDir: context.dataDir.path,
            full: options.full === true,
            repair: options.repair === true,
            now: context.io.now,
            onProgress: bar.listener,
            ...(sample ? { sample } : {}),
          })
        } finally {
          bar.stop()
        }
        if (context.json) context.printJson(report)
        else context.out(describeCheck(report, options.repair === true))
        return report.ok ? 0 : 1
      }),
    )

  command(
    program,
    'recover',
    'salvage every readable row of a damaged database into a new one; the damaged file goes to quarantine/',
  )
    .option(
      '--force',
      'recover a database that passes its checks, or replace an unreadable one by an empty one',
    )
    .addHelpText(
      'after',
      `
Stop every process that uses the data directory first. The new database is built beside the
damaged one and swapped in only when complete; the damaged hive.db (and its -wal, -shm) is
kept in quarantine/. The report says, table by table, how many rows were salvaged and lost.
Afterwards run \`hive check\`. See docs/recovery.md.`,
    )
    .action(
      action<RecoverCliOptions>(state, async (context, options) => {
        const bar = context.progress('recover')
        let report: RecoverReport
        try {
          report = await recoverDatabase({
            dataDir: context.dataDir.path,
            force: options.force === true,
            now: context.io.now,
            onProgress: bar.listener,
          })
        } finally {
          bar.stop()
        }
        if (context.json) context.printJson(report)
        else context.out(describeRecover(report))
        return report.check.ok ? 0 : 1
      }),
    )
}

function describeCheck(report: CheckReport, repair: boolean): string {
  const lines = [`data directory  ${report.dataDir}`]
  if (repair) {
    for (const problem of report.found) lines.push(`found     ${problem.kind}: ${oneLine(problem.message)}`)
    for (const action of report.repaired) lines.push(`repaired  ${action.kind}: ${oneLine(action.message)}`)
    if (report.found.length > 0 && report.repaired.length === 0) lines.push('repaired  nothing')
  }
  for (const problem of report.problems) lines.push(`problem   ${problem.kind}: ${oneLine(problem.message)}`)
  const { files, rows } = report.orphans
  if (files.length > 0) {
    const total = files.reduce((sum, file) => sum + file.storedSize, 0)
    lines.push(
      `unused    ${files.length} blob file(s) (${bytes(total)}) that nothing refers to: \`hive gc\` removes them`,
    )
  }
  if (rows.length > 0)
    lines.push(`unused    ${rows.length} blob(s) that no artifact uses: \`hive gc\` removes them`)
  const s = report.stats
  const verified =
    report.sample === 'all'
      ? `${s.blobsVerified} blob(s) verified`
      : `${report.sample.verified} of ${report.sample.of} blob(s) verified (sample)`
  const summary = `${s.artifacts} artifact(s)${s.artifactsMissing > 0 ? ` (${s.artifactsMissing} marked missing)` : ''}, ${verified}, ${s.searchDocuments} search document(s), ${report.full ? 'integrity_check' : 'quick_check'}`
  lines.push(
    report.ok
      ? `ok: no problems${repair && report.repaired.length > 0 ? ' remain' : ''} (${summary})`
      : `${report.problems.length} problem(s)${repair ? ' remain' : ''} (${summary})`,
  )
  return lines.join('\n')
}

function describeRecover(report: RecoverReport): string {
  const lines = [`recovered ${report.database} (schema ${report.version})`]
  for (const path of report.quarantined) lines.push(`the damaged file is kept as ${path}`)
  if (report.damage.length > 0) lines.push(`damage: ${report.damage[0]}`)
  lines.push(
    '',
    table(
      [
        ['TABLE', 'SALVAGED', 'LOST', 'REJECTED'],
        ...report.tables.map((t) => [
          t.table,
          String(t.salvaged),
          t.lost === null ? (t.found ? '?' : 'all') : String(t.lost),
          String(t.rejected),
        ]),
      ],
      { head: true },
    ),
    '',
  )
  lines.push(`search index rebuilt: ${report.searchDocuments} document(s)`)
  for (const action of report.repaired) lines.push(`repaired  ${action.kind}: ${oneLine(action.message)}`)
  const { salvaged, lost, rejected, uncounted } = report.totals
  lines.push(
    `${salvaged} row(s) salvaged, ${lost} lost${uncounted.length > 0 ? ` (and an unknown number in ${uncounted.join(', ')})` : ''}, ${rejected} rejected`,
  )
  if (!report.check.ok) for (const problem of report.check.problems) lines.push(`problem   ${problem}`)
  lines.push('next: `hive check` (the blobs are checked there)')
  return lines.join('\n')
}
