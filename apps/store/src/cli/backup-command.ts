import type { Command } from 'commander'
import { backupDataDir } from '../backup/backup-data-dir.js'
import { restoreBackup, verifyBackup } from '../backup/restore-backup.js'
import { dataDirLayout } from '../data-dir.js'
import { trackOnDataDir } from '../operations/track-operation.js'
import { fanOut } from '../progress.js'
import { action, type CliState, command } from './context.js'
import { bytes } from './format.js'

/** `hive backup DEST`, `hive restore SRC`, `hive verify-backup SRC`. */
export function registerBackup(program: Command, state: CliState): void {
  command(
    program,
    'backup',
    'copy the data directory to DEST, online and consistent (blobs hard-linked when possible)',
  )
    .argument('<dest>', 'a new directory for the backup')
    .option(
      '--copy',
      'copy blob files even where a hard link is possible (a backup on another disk copies anyway)',
    )
    .action(
      action<{ copy?: boolean }>(state, async (context, options, [destination]) => {
        const bar = context.progress('backup')
        const result = await trackOnDataDir(
          dataDirLayout(context.dataDir.path).database,
          'backup',
          (progress) =>
            backupDataDir({
              dataDir: context.dataDir.path,
              destination: destination as string,
              copy: options.copy === true,
              onProgress: fanOut(progress, bar.listener),
              now: context.io.now,
            }),
          (done) => ({ path: done.path, blobs: done.manifest.blobs.count, bytes: done.manifest.blobs.bytes }),
        ).finally(bar.stop)
        const { manifest } = result
        if (context.json) context.printJson(result)
        else {
          context.out(
            `backed up to ${result.path}: database ${bytes(manifest.database.bytes)} (schema ${manifest.schemaVersion ?? 'empty'}), ${manifest.blobs.count} blobs ${bytes(manifest.blobs.bytes)} (${result.linked} hard-linked, ${result.copied} copied)`,
          )
        }
        // The backup is complete, but what it backs up has a problem: said on stderr, exit 1.
        if (manifest.blobs.missing.length > 0)
          context.io.stderr(
            `hive: the backup is made, but ${manifest.blobs.missing.length} blobs that artifacts refer to were already missing from the data directory: run \`hive check --repair\` [NOT_FOUND]\n`,
          )
        return manifest.blobs.missing.length > 0 ? 1 : 0
      }),
    )

  command(program, 'restore', 'replace the database and add the blobs of a backup, after verifying it whole')
    .argument('<src>', 'a backup directory made by `hive backup`')
    .option('--verify-only', 'verify the backup, restore nothing')
    .action(
      action<{ verifyOnly?: boolean }>(state, async (context, options, [source]) => {
        const bar = context.progress(options.verifyOnly ? 'verify' : 'restore')
        if (options.verifyOnly) {
          const verification = await verifyBackup(source as string, { onProgress: bar.listener }).finally(
            bar.stop,
          )
          if (context.json) context.printJson(verification)
          else {
            context.out(
              verification.ok
                ? `ok: ${verification.path} (schema ${verification.manifest.schemaVersion ?? 'empty'}, ${verification.blobsVerified} blobs verified)`
                : `the backup ${verification.path} has problems:`,
            )
            for (const problem of verification.problems) context.out(`  ${problem.message} [${problem.code}]`)
          }
          return verification.ok ? 0 : 1
        }
        const result = await trackOnDataDir(
          dataDirLayout(context.dataDir.path).database,
          'restore',
          (progress) =>
            restoreBackup({
              dataDir: context.dataDir.path,
              from: source as string,
              // The default directory is created (a new machine); a named one must exist.
              create: context.dataDir.isDefault,
              onProgress: fanOut(progress, bar.listener),
              now: context.io.now,
            }),
          (done) => ({ from: done.verification.path, blobsAdded: done.blobsAdded }),
          // A refused restore changed nothing, and leaves no record either.
          { atEnd: true, recordFailure: () => false },
        ).finally(bar.stop)
        if (context.json) context.printJson(result)
        else {
          context.out(
            `restored ${result.verification.path} (${result.verification.blobsVerified} blobs verified, ${result.blobsAdded} added)`,
          )
          if (result.database.safety)
            context.out(`the database as it was before is in snapshots/${result.database.safety.name}`)
          for (const path of result.database.quarantined)
            context.out(`the damaged database file was moved to ${path}`)
          const status = result.database.status
          context.out(
            status.pending.length > 0
              ? `schema ${status.current ?? 'empty'}: ${status.pending.length} migrations pending, run \`hive migrate\``
              : `schema ${status.current ?? 'empty'}`,
          )
        }
        return 0
      }),
    )
}
