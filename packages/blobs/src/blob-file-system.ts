import * as fs from 'node:fs/promises'

/** The file operations the blob store uses on an open file (a subset of `FileHandle`). */
export interface BlobFileHandle {
  writev(buffers: NodeJS.ArrayBufferView[], position?: number | null): Promise<{ bytesWritten: number }>
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
  sync(): Promise<void>
  close(): Promise<void>
}

export interface BlobFileStat {
  readonly size: number
  readonly mtimeMs: number
  isFile(): boolean
  isDirectory(): boolean
}

/**
 * The file system as the blob store sees it: `node:fs/promises` by default. Tests pass their
 * own to simulate a full disk or a failing device.
 */
export interface BlobFileSystem {
  open(path: string, flags: string, mode?: number): Promise<BlobFileHandle>
  link(existing: string, target: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<string | undefined>
  readdir(path: string): Promise<string[]>
  stat(path: string): Promise<BlobFileStat>
  utimes(path: string, atime: number, mtime: number): Promise<void>
}

export const nodeFileSystem: BlobFileSystem = {
  open: (path, flags, mode) => fs.open(path, flags, mode),
  link: (existing, target) => fs.link(existing, target),
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  mkdir: (path, options) => fs.mkdir(path, options),
  readdir: (path) => fs.readdir(path),
  stat: (path) => fs.stat(path),
  utimes: (path, atime, mtime) => fs.utimes(path, atime / 1000, mtime / 1000),
}
