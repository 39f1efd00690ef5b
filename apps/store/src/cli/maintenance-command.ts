import { HiveStorageError } from '@hive/errors'
import type { SearchHit } from '@hive/queries'
import {
  ARTIFACT_TYPES,
  CELL_STATUS_TRANSITIONS,
  CELL_STATUSES,
  type CellStatus,
  canTransition,
} from '@hive/schema'
import type { Command } from 'commander'
import { collectGarbage } from '../maintenance/collect-garbage.js'
import { deleteCellGently } from '../maintenance/delete-gently.js'
import { applyRetention, isEmptyPlan, planRetention, type RetentionPlan } from '../maintenance/retention.js'
import {
  isEmptyPolicy,
  type RetentionPolicy,
  type RetentionPolicyPatch,
  readRetentionPolicy,
  writeRetentionPolicy,
} from '../maintenance/retention-policy.js'
import { type StoreUsage, storeUsage, withBlobFiles } from '../maintenance/usage.js'
import { vacuumStore } from '../maintenance/vacuum.js'
import { action, byteSize, type CliState, command, decimal, wholeNumber, withStore } from './context.js'
import { bytes, table, time } from './format.js'

/** `hive usage`, `hive retention …`, `hive cells …`, `hive gc`, `hive vacuum`, `hive search`. */
export function registerMaintenance(program: Command, state: CliState): void {
  command(program, 'usage', 'storage used per kind of data, for the whole store or one cell')
    .option('--cell <id>', 'only this cell')
    .action(
      action<{ cell?: string }>(state, (context, options) =>
        withStore(context, async (store) => {
          let usage = await storeUsage(store, options.cell === undefined ? {} : { cellId: options.cell })
          usage = await withBlobFiles(store, usage)
          if (context.json) context.printJson(usage)
          else context.out(describeUsage(usage))
          return 0
        }),
      ),
    )

  registerRetention(program, state)
  registerCells(program, state)

  command(program, 'gc', 'delete blob files no artifact refers to (older than the grace period)')
    .option('--dry-run', 'show what would be deleted, delete nothing')
    .option('--grace <minutes>', 'keep unreferenced blobs younger than this (default 60)')
    .action(
      action<{ dryRun?: boolean; grace?: string }>(state, (context, options) =>
        withStore(context, async (store) => {
          const grace = wholeNumber('--grace', options.grace, 0)
          const bar = context.progress('gc')
          const result = await collectGarbage(store, {
            dryRun: options.dryRun === true,
            onProgress: bar.listener,
            ...(grace === undefined ? {} : { graceMs: grace * 60_000 }),
          }).finally(bar.stop)
          if (context.json) context.printJson(result)
          else {
            const verb = result.dryRun ? 'would delete' : 'deleted'
            context.out(
              `${verb} ${result.removed} of ${result.scanned} blob files (${bytes(result.bytesFreed)})` +
                (result.tempFiles > 0
                  ? ` and ${result.tempFiles} leftover temp files (${bytes(result.tempBytes)})`
                  : ''),
            )
            if (result.keptYoung > 0)
              context.out(`kept ${result.keptYoung} unreferenced blob files younger than the grace period`)
          }
          return 0
        }),
      ),
    )

  command(program, 'vacuum', 'give free database pages back to the file system')
    .option('--full', 'rebuild the whole file (needs free disk as large as the database)')
    .action(
      action<{ full?: boolean }>(state, (context, options) =>
        withStore(context, async (store) => {
          const bar = context.progress('vacuum')
          const result = await vacuumStore(store, {
            full: options.full === true,
            onProgress: bar.listener,
          }).finally(bar.stop)
          if (context.json) context.printJson(result)
          else
            context.out(
              `${result.mode} vacuum: ${bytes(result.beforeBytes)} → ${bytes(result.afterBytes)} (reclaimed ${bytes(result.reclaimedBytes)})`,
            )
          return 0
        }),
      ),
    )

  command(program, 'search', 'search transcripts, plans, artifacts and cells across all cells')
    .argument('<text...>', 'what to look for ("quoted phrase", prefix*)')
    .option('--workspace <id>', 'only this workspace')
    .option('--cell <id>', 'only this cell (repeat for several)', (id: string, ids: string[] = []) => [
      ...ids,
      id,
    ])
    .option('--limit <n>', 'hits to show (default 10)')
    .action(
      action<{ workspace?: string; cell?: string[]; limit?: string }>(state, (context, options, words) =>
        withStore(context, async (store) => {
          const limit = wholeNumber('--limit', options.limit, 1) ?? 10
          const { hits } = await store.services.search.search({
            text: words.join(' '),
            limit: Math.min(limit, 100),
            ...(options.workspace ? { workspaceId: options.workspace } : {}),
            ...(options.cell ? { cellIds: options.cell } : {}),
          })
          if (context.json) context.printJson({ hits })
          else context.out(describeSearch(hits))
          return 0
        }),
      ),
    )
}

function registerRetention(program: Command, state: CliState): void {
  const retention = program
    .command('retention')
    .description('retention policies: what the store keeps, and applying them')
  command(retention, 'show', 'the policy in force').action(
    action(state, (context) =>
      withStore(context, async (store) => {
        const policy = readRetentionPolicy(store)
        if (context.json) context.printJson(policy)
        else context.out(describePolicy(policy))
        return 0
      }),
    ),
  )
  command(retention, 'set', 'change limits (a value of "off" removes a limit)')
    .option(
      '--artifact-max-age <type=days...>',
      `per artifact type (${ARTIFACT_TYPES.join(', ')}), e.g. log=30`,
    )
    .option('--keep-sessions <n>', 'keep the newest N sessions of each cell')
    .option('--archive-after <days>', 'archive cells inactive for this many days')
    .option('--delete-archived-after <days>', 'delete archived cells this many days after archiving')
    .option('--max-total-size <size>', 'a budget for the whole store, e.g. 20GiB')
    .action(
      action<{
        artifactMaxAge?: string[]
        keepSessions?: string
        archiveAfter?: string
        deleteArchivedAfter?: string
        maxTotalSize?: string
      }>(state, (context, options) =>
        withStore(context, async (store) => {
          const patch = policyPatch(options)
          if (Object.keys(patch).length === 0) {
            throw new HiveStorageError(
              'INVALID_INPUT',
              'nothing to set: give at least one limit (see `hive retention set --help`)',
            )
          }
          const policy = writeRetentionPolicy(store, patch, context.io.now())
          if (context.json) context.printJson(policy)
          else context.out(describePolicy(policy))
          return 0
        }),
      ),
    )
  command(retention, 'apply', 'archive and delete what the policy says, collect blobs, reclaim space')
    .option('--dry-run', 'show exactly what would go and the bytes freed, change nothing')
    .action(
      action<{ dryRun?: boolean }>(state, (context, options) =>
        withStore(context, async (store) => {
          const policy = readRetentionPolicy(store)
          if (options.dryRun) {
            const plan = await planRetention(store, { policy, now: context.io.now() })
            if (context.json) context.printJson(plan)
            else context.out(describePlan(plan, true))
            return 0
          }
          if (isEmptyPolicy(policy) && !context.json) {
            context.out(
              'no retention policy is set (see `hive retention set --help`): expired artifacts only',
            )
          }
          const bar = context.progress('retention')
          const result = await applyRetention(store, {
            policy,
            now: context.io.now(),
            onProgress: bar.listener,
          }).finally(bar.stop)
          if (context.json) context.printJson(result)
          else {
            context.out(describePlan(result.plan, false))
            context.out(
              `done: ${result.archivedCells} cells archived, ${result.deletedCells} cells, ${result.deletedSessions} sessions, ${result.deletedMessages} messages and ${result.deletedArtifacts} artifacts deleted`,
            )
            context.out(
              `freed ${bytes(result.gc.bytesFreed)} of blobs (${result.gc.removed} files); the database file shrank by ${bytes(result.vacuum.reclaimedBytes)}`,
            )
            for (const item of result.skipped) context.out(`skipped ${item.id}: ${item.reason}`)
          }
          return 0
        }),
      ),
    )
}

function registerCells(program: Command, state: CliState): void {
  const cells = program.command('cells').description('list, archive and delete cells')
  command(cells, 'ls', 'cells, most recently updated first')
    .option('--workspace <id>', 'only this workspace')
    .option('--status <status...>', `only these statuses (${CELL_STATUSES.join(', ')})`)
    .option('--limit <n>', 'how many (default 50, at most 500)')
    .action(
      action<{ workspace?: string; status?: string[]; limit?: string }>(state, (context, options) =>
        withStore(context, async (store) => {
          const limit = wholeNumber('--limit', options.limit, 1)
          const page = await store.services.cells.list({
            ...(options.workspace ? { workspaceId: options.workspace } : {}),
            ...(options.status ? { statuses: options.status as CellStatus[] } : {}),
            ...(limit === undefined ? {} : { limit }),
          })
          if (context.json) context.printJson(page)
          else if (page.items.length === 0) context.out('no cells')
          else
            context.out(
              table(
                [
                  ['ID', 'STATUS', 'TYPE', 'UPDATED', 'NAME'],
                  ...page.items.map((c) => [c.id, c.status, c.type, time(c.updatedAt), c.name]),
                ],
                { head: true },
              ),
            )
          return 0
        }),
      ),
    )
  command(cells, 'rm', 'delete cells and everything of them (blob files go with the next gc)')
    .argument('<id...>', 'cell ids')
    .option('--dry-run', 'show what would be deleted')
    .action(
      action<{ dryRun?: boolean }>(state, (context, options, ids) =>
        withStore(context, async (store) => {
          // Every id is checked before anything is deleted.
          const found = ids.map((id) => {
            const row = store.database.sqlite
              .prepare(
                `SELECT c.id, c.name,
                   (SELECT count(*) FROM sessions s WHERE s.cell_id = c.id) AS sessions,
                   (SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = c.id) AS messages,
                   (SELECT count(*) FROM artifacts a WHERE a.cell_id = c.id) AS artifacts
                 FROM cells c WHERE c.id = ?`,
              )
              .get(id) as
              | { id: string; name: string; sessions: number; messages: number; artifacts: number }
              | undefined
            if (!row) throw new HiveStorageError('NOT_FOUND', `there is no cell ${id}`, { value: id })
            return row
          })
          if (!options.dryRun) {
            const bar = context.progress('deleting')
            try {
              for (const [index, cell] of found.entries()) {
                bar.listener({ phase: cell.id, done: index, total: found.length })
                await deleteCellGently(store, cell.id)
              }
            } finally {
              bar.stop()
              store.invalidateCaches()
            }
          }
          if (context.json) context.printJson({ dryRun: options.dryRun === true, cells: found })
          else
            for (const cell of found)
              context.out(
                `${options.dryRun ? 'would delete' : 'deleted'} ${cell.id} "${cell.name}": ${cell.sessions} sessions, ${cell.messages} messages, ${cell.artifacts} artifacts`,
              )
          return 0
        }),
      ),
    )
  command(cells, 'archive', 'archive cells (from completed, parked, error or draft)')
    .argument('<id...>', 'cell ids')
    .action(
      action(state, (context, _options, ids) =>
        withStore(context, async (store) => {
          // Every id is checked before any cell changes: all of them are archived, or none.
          for (const id of ids) {
            const cell = await store.services.cells.get(id)
            if (!canTransition(cell.status, 'archived'))
              throw new HiveStorageError(
                'CONFLICT',
                `cell ${id} cannot go from ${cell.status} to archived (allowed: ${CELL_STATUS_TRANSITIONS[cell.status].join(', ') || 'none'})`,
                { value: id },
              )
          }
          const archived = []
          for (const id of ids)
            archived.push(await store.services.cells.setStatus(id, 'archived', { source: 'human' }))
          if (context.json) context.printJson({ cells: archived })
          else for (const cell of archived) context.out(`archived ${cell.id} "${cell.name}"`)
          return 0
        }),
      ),
    )
}

function policyPatch(options: {
  artifactMaxAge?: string[]
  keepSessions?: string
  archiveAfter?: string
  deleteArchivedAfter?: string
  maxTotalSize?: string
}): RetentionPolicyPatch {
  const off = (value: string) => value.trim().toLowerCase() === 'off'
  const patch: Record<string, unknown> = {}
  if (options.artifactMaxAge) {
    const ages: Record<string, number | null> = {}
    for (const item of options.artifactMaxAge) {
      const [type, days, ...rest] = item.split('=')
      if (!type || days === undefined || rest.length > 0) {
        throw new HiveStorageError(
          'INVALID_INPUT',
          `--artifact-max-age takes type=days (e.g. log=30), not ${JSON.stringify(item)}`,
          { value: item },
        )
      }
      ages[type] = off(days) ? null : decimal(`--artifact-max-age ${type}`, days)
    }
    patch.artifactMaxAgeDays = ages
  }
  const set = (key: keyof RetentionPolicy, value: string | undefined, parse: (v: string) => number) => {
    if (value !== undefined) patch[key] = off(value) ? null : parse(value)
  }
  set('keepSessionsPerCell', options.keepSessions, (v) => wholeNumber('--keep-sessions', v, 1) as number)
  set('archiveInactiveAfterDays', options.archiveAfter, (v) => decimal('--archive-after', v))
  set('deleteArchivedAfterDays', options.deleteArchivedAfter, (v) => decimal('--delete-archived-after', v))
  set('maxTotalBytes', options.maxTotalSize, (v) => byteSize('--max-total-size', v))
  return patch as RetentionPolicyPatch
}

function describePolicy(policy: RetentionPolicy): string {
  if (isEmptyPolicy(policy)) return 'no retention policy: everything is kept (expired artifacts excepted)'
  const rows: string[][] = []
  for (const [type, days] of Object.entries(policy.artifactMaxAgeDays ?? {}))
    rows.push([`artifacts of type ${type}`, `deleted after ${days} days`])
  if (policy.keepSessionsPerCell !== undefined)
    rows.push(['sessions', `newest ${policy.keepSessionsPerCell} per cell kept`])
  if (policy.archiveInactiveAfterDays !== undefined)
    rows.push(['inactive cells', `archived after ${policy.archiveInactiveAfterDays} days`])
  if (policy.deleteArchivedAfterDays !== undefined)
    rows.push(['archived cells', `deleted after ${policy.deleteArchivedAfterDays} days`])
  if (policy.maxTotalBytes !== undefined) rows.push(['total size', `at most ${bytes(policy.maxTotalBytes)}`])
  return table(rows)
}

function describePlan(plan: RetentionPlan, dryRun: boolean): string {
  const would = dryRun ? 'would ' : ''
  if (isEmptyPlan(plan)) return dryRun ? 'nothing would change' : 'nothing to do'
  const lines: string[] = []
  const section = (title: string, rows: string[][]) => {
    if (rows.length === 0) return
    lines.push(title, table(rows))
  }
  section(
    `${would}archive ${plan.archiveCells.length} cells:`,
    plan.archiveCells.map((c) => [c.id, c.status, `inactive since ${time(c.since)}`, c.name]),
  )
  section(
    `${would}delete ${plan.deleteCells.length} cells:`,
    plan.deleteCells.map((c) => [
      c.id,
      c.reason === 'budget' ? 'size budget' : `archived ${time(c.since)}`,
      c.name,
    ]),
  )
  section(
    `${would}delete ${plan.deleteSessions.length} sessions:`,
    plan.deleteSessions.map((s) => [
      s.id,
      s.cellId,
      time(s.createdAt),
      `${s.messages} messages${s.subSessions > 0 ? `, ${s.subSessions} sub-sessions` : ''}`,
      s.title ?? '',
    ]),
  )
  section(
    `${would}delete ${plan.deleteArtifacts.length} artifacts:`,
    plan.deleteArtifacts.map((a) => [a.id, a.type, time(a.createdAt), bytes(a.size), a.reason, a.name]),
  )
  lines.push(
    `${dryRun ? 'would free' : 'frees'}: ${bytes(plan.freed.blobBytes)} of blob files (${plan.freed.blobs}), about ${bytes(plan.freed.rowBytes)} of database rows`,
  )
  if (plan.budget)
    lines.push(
      `size budget ${bytes(plan.budget.maxTotalBytes)}: now ${bytes(plan.budget.currentBytes)}, after about ${bytes(plan.budget.projectedBytes)}${plan.budget.met ? '' : ' (NOT met: nothing more may go)'}`,
    )
  return lines.join('\n')
}

export function describeUsage(usage: StoreUsage): string {
  const line = (label: string, l: { items: number; logicalBytes: number; storedBytes: number }) => [
    label,
    String(l.items),
    bytes(l.logicalBytes),
    bytes(l.storedBytes),
  ]
  const rows = [
    ['KIND', 'ITEMS', 'LOGICAL', 'STORED'],
    [
      'transcripts (messages, parts)',
      `${usage.transcripts.messages}, ${usage.transcripts.parts}`,
      bytes(usage.transcripts.logicalBytes),
      bytes(usage.transcripts.storedBytes),
    ],
    ...Object.entries(usage.artifacts)
      .filter(([, l]) => l.items > 0)
      .map(([type, l]) => line(`  artifacts: ${type}`, l)),
    line('artifacts', usage.artifactsTotal),
    line('plans', usage.plans),
    line('events', usage.events),
    line('metrics', usage.metrics),
    line('search index', usage.searchIndex),
    ['total', '', bytes(usage.total.logicalBytes), bytes(usage.total.storedBytes)],
  ]
  const out = [
    usage.cellId === null ? 'usage of the whole store:' : `usage of cell ${usage.cellId}:`,
    table(rows, { head: true }),
  ]
  out.push(
    `savings: ${bytes(usage.savings.compressionBytes)} by compression, ${bytes(usage.savings.deduplicationBytes)} by deduplication`,
  )
  if (usage.disk) {
    out.push(
      `on disk: database ${bytes(usage.disk.databaseBytes)} (${bytes(usage.disk.freeBytes)} free, reclaimed by \`hive vacuum\`), WAL ${bytes(usage.disk.walBytes)}, ${usage.disk.blobFiles} blob files ${bytes(usage.disk.blobBytes)}`,
    )
  }
  return out.join('\n')
}

/** Search hits, matches in [brackets]. */
export function describeSearch(hits: readonly SearchHit[]): string {
  if (hits.length === 0) return 'no matches'
  const mark = (segments: ReadonlyArray<{ text: string; match: boolean }>) =>
    segments.map((s) => (s.match ? `[${s.text}]` : s.text)).join('')
  return hits
    .map(
      (hit) =>
        `${hit.kind} ${hit.refId} (cell ${hit.cellId}, ${time(hit.createdAt)})\n  ${mark(hit.title) || '(untitled)'}: ${mark(hit.snippet).replace(/\s+/g, ' ')}`,
    )
    .join('\n')
}
