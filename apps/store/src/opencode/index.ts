export type { DemoOpencodeSession, DemoOpencodeSessionsOptions, DemoSession } from './demo-sessions.js'
export { demoOpencodeSessions } from './demo-sessions.js'
export type {
  ImportOpencodeOptions,
  OpencodeImportResult,
  OpencodeSessionImported,
  OpencodeSessionOutcome,
  OpencodeSessionSkipped,
} from './import-opencode.js'
export { importOpencode } from './import-opencode.js'
export type { IngestOpencodeMessagesOptions, OpencodeTargetStore } from './ingest-opencode-messages.js'
export { ingestOpencodeMessages } from './ingest-opencode-messages.js'
export { JsonStorageReader } from './json-storage-reader.js'
export type { OpencodeFormatChoice, OpenOpencodeSourceOptions } from './open-opencode-source.js'
export { openOpencodeSource } from './open-opencode-source.js'
export type {
  OpencodeFormat,
  OpencodeProject,
  OpencodeSessionEntry,
  OpencodeSource,
} from './opencode-source.js'
export type {
  OpencodeMessage,
  OpencodeSession,
  OpencodeTranscript,
  RawTranscript,
} from './opencode-transcript.js'
export { opencodeSessionSchema } from './opencode-transcript.js'
export type { SqliteReaderConfig } from './sqlite-reader.js'
export { SqliteReader } from './sqlite-reader.js'
export type { OpencodeCounts, OpencodeIngestResult } from './write-opencode-session.js'
export { OPENCODE_PROVIDER } from './write-opencode-session.js'
