export type { Artifact } from './artifact.js'
export { toArtifact } from './artifact.js'
export type {
  ArtifactContentInput,
  ArtifactContentStore,
  OpenedContent,
  StoredContent,
} from './artifact-content-store.js'
export type {
  ArtifactPage,
  ArtifactServiceConfig,
  ListArtifactsOptions,
  OpenArtifactOptions,
  OpenedArtifact,
} from './artifact-service.js'
export { ArtifactService } from './artifact-service.js'
export { decodeCursor, encodeCursor } from './cursor.js'
