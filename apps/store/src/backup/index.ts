export type { BackupOptions, BackupResult } from './backup-data-dir.js'
export { backupDataDir } from './backup-data-dir.js'
export type { BackupManifest } from './backup-manifest.js'
export { BACKUP_MANIFEST, backupManifestSchema } from './backup-manifest.js'
export type {
  BackupProblem,
  BackupVerification,
  RestoreBackupOptions,
  RestoreBackupResult,
} from './restore-backup.js'
export { restoreBackup, verifyBackup } from './restore-backup.js'
