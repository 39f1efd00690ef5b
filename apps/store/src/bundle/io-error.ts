import { HiveStorageError, isHiveStorageError } from '@hive/errors'

/** A system error as a typed one: `DISK_FULL` for ENOSPC/EDQUOT, `NOT_FOUND` for ENOENT, else `IO_ERROR`. */
export function ioError(error: unknown, context: string, value?: unknown): HiveStorageError {
  if (isHiveStorageError(error)) return error
  const code = (error as NodeJS.ErrnoException)?.code
  const message = (error as Error)?.message ?? String(error)
  const options = { cause: error, ...(value === undefined ? {} : { value }) }
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new HiveStorageError('DISK_FULL', `${context}: the disk is full (${message})`, options)
  if (code === 'ENOENT') return new HiveStorageError('NOT_FOUND', `${context}: ${message}`, options)
  return new HiveStorageError('IO_ERROR', `${context}: ${message}`, options)
}
