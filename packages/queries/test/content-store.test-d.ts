// Type-level test, checked by `pnpm typecheck`: the blob store fits the artifact content store.
import type { BlobStore } from '@hive/blobs'
import { expectTypeOf } from 'vitest'
import type { ArtifactContentStore } from '../src/index.js'

expectTypeOf<BlobStore>().toExtend<ArtifactContentStore>()
