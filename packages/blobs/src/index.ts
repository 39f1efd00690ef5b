export type { BlobFileHandle, BlobFileStat, BlobFileSystem } from './blob-file-system.js'
export { nodeFileSystem } from './blob-file-system.js'
export type { BlobInput } from './blob-input.js'
export type {
  BlobContent,
  BlobEncoding,
  BlobInfo,
  BlobStats,
  BlobStoreConfig,
  BlobStoreOptions,
  GcOptions,
  GcResult,
  PutOptions,
  PutResult,
  ReadOptions,
  VerifyProgress,
  VerifyResult,
} from './blob-store.js'
export { BlobStore } from './blob-store.js'
export type { BlockCodec } from './block-codec.js'
export { contentTypeFor, DEFAULT_CONTENT_TYPE, isContentType } from './content-type.js'
export type { Hasher, HashStream } from './hasher.js'
export { inlineHasher } from './hasher.js'
export type { ByteRange } from './http-range.js'
export { contentRangeHeader, parseRangeHeader } from './http-range.js'
export type { Lz4Napi } from './lz4-block-codec.js'
export { Lz4BlockCodec } from './lz4-block-codec.js'
export { WorkerHasher } from './worker-hasher.js'
