import { xxhash32 } from './xxhash32.js'

// The on-disk format of an `lz4-frames` blob: a sequence of standard LZ4 frames, each holding one
// independent block and its content size, then a skippable frame with a seek table. `lz4 -dc`
// decodes the data frames and skips the table, so the stock tool restores the content.
//
//   data frame:  magic 04 22 4D 18 | FLG | BD | content size u64 | HC | block size u32 | block | 00 00 00 00
//   seek table:  magic 5E 2A 4D 18 | length u32 | (frame bytes u32, content bytes u32) × n |
//                total content u64 | n u32 | version u32 | "HIVESEEK"

export const FRAME_MAGIC = 0x184d2204
export const SEEK_TABLE_MAGIC = 0x184d2a5e
const SEEK_TRAILER = Buffer.from('HIVESEEK', 'ascii')
const SEEK_VERSION = 1

/** FLG: version 01, independent blocks, no block checksums, content size present, no content checksum. */
const FLG = 0b0110_1000
/** Bytes before a frame's block data: magic, FLG, BD, content size, HC, block size. */
export const FRAME_HEADER_BYTES = 19
/** Bytes after it: the end mark. */
export const FRAME_TRAILER_BYTES = 4
/** The seek table's fixed tail: total, count, version, trailer. */
export const SEEK_FOOTER_BYTES = 24
const UNCOMPRESSED_BIT = 0x80000000

/** BD byte for the smallest standard block maximum that holds `size` bytes. */
function blockMaximumCode(size: number): number {
  if (size <= 64 * 1024) return 4
  if (size <= 256 * 1024) return 5
  if (size <= 1024 * 1024) return 6
  if (size <= 4 * 1024 * 1024) return 7
  throw new RangeError(`an LZ4 block holds at most 4 MiB, not ${size} bytes`)
}

/** The maximum content a frame of this store may hold (the frame size option must fit). */
export const MAX_FRAME_CONTENT = 4 * 1024 * 1024

/**
 * The 19 bytes in front of a block: frame header and block size. `blockBytes` is the length of
 * the block data; `compressed` false marks the block as stored as is.
 */
export function frameHeader(
  contentBytes: number,
  blockBytes: number,
  compressed: boolean,
  frameContent: number,
): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
  header.writeUInt32LE(FRAME_MAGIC, 0)
  header[4] = FLG
  header[5] = blockMaximumCode(frameContent) << 4
  header.writeBigUInt64LE(BigInt(contentBytes), 6)
  header[14] = (xxhash32(header.subarray(4, 14)) >>> 8) & 0xff
  header.writeUInt32LE(compressed ? blockBytes : (blockBytes | UNCOMPRESSED_BIT) >>> 0, 15)
  return header
}

export const END_MARK: Buffer = Buffer.alloc(FRAME_TRAILER_BYTES)

/** One frame's place in the file and its content. */
export interface FrameEntry {
  /** Offset of the frame in the file. */
  readonly fileOffset: number
  readonly fileBytes: number
  /** Offset of its content in the blob's content. */
  readonly contentOffset: number
  readonly contentBytes: number
}

export function seekTable(frames: ReadonlyArray<{ fileBytes: number; contentBytes: number }>): Buffer {
  const length = frames.length * 8 + SEEK_FOOTER_BYTES
  const table = Buffer.allocUnsafe(8 + length)
  table.writeUInt32LE(SEEK_TABLE_MAGIC, 0)
  table.writeUInt32LE(length, 4)
  let at = 8
  let total = 0
  for (const frame of frames) {
    table.writeUInt32LE(frame.fileBytes, at)
    table.writeUInt32LE(frame.contentBytes, at + 4)
    total += frame.contentBytes
    at += 8
  }
  table.writeBigUInt64LE(BigInt(total), at)
  table.writeUInt32LE(frames.length, at + 8)
  table.writeUInt32LE(SEEK_VERSION, at + 12)
  SEEK_TRAILER.copy(table, at + 16)
  return table
}

/** What the last {@link SEEK_FOOTER_BYTES} of a file say, or why they are not a seek table. */
export function parseSeekFooter(footer: Uint8Array): { total: number; count: number } | string {
  const buffer = Buffer.from(footer.buffer, footer.byteOffset, footer.byteLength)
  if (buffer.length !== SEEK_FOOTER_BYTES || !buffer.subarray(16).equals(SEEK_TRAILER))
    return 'its seek table is missing'
  if (buffer.readUInt32LE(12) !== SEEK_VERSION)
    return `its seek table has unknown version ${buffer.readUInt32LE(12)}`
  return { total: Number(buffer.readBigUInt64LE(0)), count: buffer.readUInt32LE(8) }
}

/**
 * The frames listed by a seek table (its entries without the 8-byte skippable-frame header and
 * the footer), checked against the file size; a string says what is inconsistent.
 */
export function parseSeekEntries(
  entries: Uint8Array,
  count: number,
  total: number,
  fileSize: number,
): FrameEntry[] | string {
  const buffer = Buffer.from(entries.buffer, entries.byteOffset, entries.byteLength)
  const frames: FrameEntry[] = []
  let fileOffset = 0
  let contentOffset = 0
  for (let i = 0; i < count; i++) {
    const fileBytes = buffer.readUInt32LE(i * 8)
    const contentBytes = buffer.readUInt32LE(i * 8 + 4)
    if (fileBytes < FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES || contentBytes > MAX_FRAME_CONTENT) {
      return `frame ${i} of its seek table is impossible`
    }
    frames.push({ fileOffset, fileBytes, contentOffset, contentBytes })
    fileOffset += fileBytes
    contentOffset += contentBytes
  }
  if (contentOffset !== total) return 'its seek table does not add up'
  if (fileOffset + 8 + count * 8 + SEEK_FOOTER_BYTES !== fileSize)
    return 'its size does not match its seek table (truncated?)'
  return frames
}

/**
 * Parses a data frame read whole from the file: checks magic, flags, header checksum and end
 * mark, and returns where its block lies. A string says what is wrong.
 */
export function parseFrame(
  frame: Buffer,
  expectedContent: number,
): { blockStart: number; blockBytes: number; compressed: boolean } | string {
  if (frame.length < FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES || frame.readUInt32LE(0) !== FRAME_MAGIC) {
    return 'a frame has no LZ4 magic number'
  }
  if (frame[4] !== FLG) return 'a frame has unexpected flags'
  if (frame[14] !== ((xxhash32(frame.subarray(4, 14)) >>> 8) & 0xff))
    return 'a frame header checksum does not match'
  if (Number(frame.readBigUInt64LE(6)) !== expectedContent)
    return 'a frame content size does not match the seek table'
  const field = frame.readUInt32LE(15)
  const blockBytes = field & ~UNCOMPRESSED_BIT
  if (FRAME_HEADER_BYTES + blockBytes + FRAME_TRAILER_BYTES !== frame.length)
    return 'a frame block size is wrong'
  if (frame.readUInt32LE(frame.length - FRAME_TRAILER_BYTES) !== 0) return 'a frame has no end mark'
  const compressed = (field & UNCOMPRESSED_BIT) === 0
  if (!compressed && blockBytes !== expectedContent) return 'an uncompressed block has the wrong size'
  return { blockStart: FRAME_HEADER_BYTES, blockBytes, compressed }
}
