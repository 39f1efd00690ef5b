import { HiveStorageError, isHiveStorageError } from '@hive/errors'

/** A system error as a typed one: `DISK_FULL` for ENOSPC/EDQUOT, `NOT_FOUND`, else `IO_ERROR`. */
export function toIoError(error: unknown, context: string, value?: unknown): HiveStorageError {
  if (isHiveStorageError(error)) return error
  const code = (error as NodeJS.ErrnoException)?.code
  const message = (error as Error)?.message ?? String(error)
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new HiveStorageError('DISK_FULL', `${context}: the disk is full (${message})`, {
      cause: error,
      value,
    })
  }
  if (code === 'ENOENT')
    return new HiveStorageError('NOT_FOUND', `${context}: ${message}`, { cause: error, value })
  return new HiveStorageError('IO_ERROR', `${context}: ${message}`, { cause: error, value })
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code
}
