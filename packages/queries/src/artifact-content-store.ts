/** What an artifact's content can be written from. */
export type ArtifactContentInput =
  | Uint8Array
  | string
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>

/** Stored content, as the content store reports it. */
export interface StoredContent {
  readonly hash: string
  readonly size: number
  readonly storedSize: number
  readonly encoding: 'lz4-frames' | 'raw'
  readonly contentType: string
  readonly deduplicated: boolean
}

/** An opened piece of content (all of it, or a range). */
export interface OpenedContent {
  readonly size: number
  readonly range: { readonly start: number; readonly end: number }
  readonly length: number
  readonly contentType: string
  readonly verified: boolean
  stream(): NodeJS.ReadableStream & AsyncIterable<Buffer>
  webStream(): ReadableStream<Uint8Array>
  buffer(): Promise<Buffer>
}

/**
 * Where artifact content lives: `BlobStore` of `@hive/blobs` fits this shape. The artifact
 * service depends on the shape, not the package, so that the query layer stays free of the
 * file system (and a team can put content in object storage instead).
 */
export interface ArtifactContentStore {
  put(
    content: ArtifactContentInput,
    options: { readonly name?: string; readonly contentType?: string; readonly signal?: AbortSignal },
  ): Promise<StoredContent>
  open(
    hash: string,
    options: {
      readonly range?: { readonly offset: number; readonly length?: number }
      readonly verify?: boolean
      readonly contentType?: string
    },
  ): Promise<OpenedContent>
}
