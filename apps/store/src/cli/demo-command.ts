import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { seedDemo } from '../demo/seed-demo.js'
import { checkStore } from '../integrity/check-store.js'
import { storeUsage, withBlobFiles } from '../maintenance/usage.js'
import { action, type CliState, command, wholeNumber } from './context.js'
import { describeSearch, describeUsage } from './maintenance-command.js'

/** The text `hive demo` searches for after seeding. */
export const DEMO_QUERY = 'flaky'

/** `hive demo`: seed a realistic workspace, then show usage, a search and a clean check. */
export function registerDemo(program: Command, state: CliState): void {
  command(program, 'demo', 'seed a demo workspace, then show its usage, a search and a check')
    .option('--seed <n>', 'another demo (default 42)')
    .action(
      action<{ seed?: string }>(state, async (context, options) => {
        const seed = wholeNumber('--seed', options.seed, 0) ?? 42
        // The default directory is created; a named one must exist (a typo fails), its database is created.
        const create = context.dataDir.isDefault || existsSync(context.dataDir.path)
        const store = await context.openStore({ create, migrate: 'auto' })
        try {
          const bar = context.progress('seeding')
          const seeded = await seedDemo(store, { seed, onProgress: bar.listener }).finally(bar.stop)
          store.database.checkpoint('truncate') // the sizes shown are the files' as they stay
          const usage = await withBlobFiles(store, await storeUsage(store))
          const search = await store.services.search.search({ text: DEMO_QUERY, limit: 5 })
          const checkBar = context.progress('checking')
          const check = await checkStore(store, { onProgress: checkBar.listener }).finally(checkBar.stop)
          if (context.json) {
            context.printJson({ dataDir: store.layout.root, seeded, usage, search, check })
          } else {
            context.out(
              seeded.seeded
                ? `seeded the demo workspace acme-webapp in ${store.layout.root}: ${seeded.cells} cells, ${seeded.sessions} sessions, ${seeded.messages} messages, ${seeded.artifacts} artifacts`
                : `the demo workspace is in ${store.layout.root} already (nothing added)`,
            )
            context.out('')
            context.out(describeUsage(usage))
            context.out('')
            context.out(`search "${DEMO_QUERY}":`)
            context.out(describeSearch(search.hits))
            context.out('')
            context.out(
              check.ok
                ? `check: ok (database, foreign keys, search index, ${check.stats.artifacts} artifacts, ${check.stats.blobsVerified} blobs verified)`
                : `check: ${check.problems.length} problems (run \`hive check\`)`,
            )
            context.out('')
            context.out(
              'next: hive cells ls · hive search <text> · hive usage --cell <id> · hive check · hive --help',
            )
          }
          return check.ok ? 0 : 1
        } finally {
          await store.close()
        }
      }),
    )
}
