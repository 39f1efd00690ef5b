import type { Database } from '@hive/schema'
import type { Kysely } from 'kysely'
import type { ArtifactContentStore } from './artifact-content-store.js'
import { ArtifactService } from './artifact-service.js'
import { CellService } from './cell-service.js'
import { MetricService } from './metric-service.js'
import { PlanService } from './plan-service.js'
import { SearchService } from './search-service.js'
import { SessionService } from './session-service.js'
import type { SyncWriter } from './sync-writer.js'
import { TimelineService } from './timeline.js'
import { TranscriptService } from './transcript-service.js'
import { WorkspaceService } from './workspace-service.js'

export interface QueryServicesConfig {
  readonly db: Kysely<Database>
  /** Where artifact content (and large tool outputs) go: a `BlobStore` of `@hive/blobs`. */
  readonly content: ArtifactContentStore
  readonly now?: () => number
  /** Tool outputs above this many bytes become artifacts (default 64 KiB). */
  readonly spillBytes?: number
  /** Runs hot writes as synchronous transactions (pass the store's `SqliteDatabase`). */
  readonly writer?: SyncWriter
  /**
   * A Kysely instance on a read pool (`ReadPool` of `@hive/sqlite`): searches and transcript
   * reads (pages, streams) run there, off the event loop. Everything else runs on `db`.
   */
  readonly readDb?: Kysely<Database>
}

/** Every query service, on one database. */
export interface QueryServices {
  readonly workspaces: WorkspaceService
  readonly cells: CellService
  readonly sessions: SessionService
  readonly transcripts: TranscriptService
  readonly plans: PlanService
  readonly timeline: TimelineService
  readonly metrics: MetricService
  readonly search: SearchService
  readonly artifacts: ArtifactService
}

/**
 * The query services wired to one database and content store.
 *
 * @example
 * ```ts
 * const services = createQueryServices({ db: database.db, content: blobStore })
 * const cell = await services.cells.create({ workspaceId, name: 'Fix login', type: 'implementation' })
 * ```
 */
export function createQueryServices(config: QueryServicesConfig): QueryServices {
  const { db, content } = config
  const now = config.now ?? Date.now
  return {
    workspaces: new WorkspaceService({ db, now }),
    cells: new CellService({ db, now }),
    sessions: new SessionService({ db, now }),
    transcripts: new TranscriptService({
      db,
      content,
      now,
      ...(config.spillBytes === undefined ? {} : { spillBytes: config.spillBytes }),
      ...(config.writer ? { writer: config.writer } : {}),
      ...(config.readDb ? { readDb: config.readDb } : {}),
    }),
    plans: new PlanService({ db, now }),
    timeline: new TimelineService({ db, now }),
    metrics: new MetricService({ db, now }),
    search: new SearchService({ db, ...(config.readDb ? { readDb: config.readDb } : {}) }),
    artifacts: new ArtifactService({ db, content, now }),
  }
}
