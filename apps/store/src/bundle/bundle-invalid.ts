import { HiveStorageError } from '@hive/errors'

/** The error of a bundle that cannot be imported: `BUNDLE_INVALID`, naming what is wrong. */
export function bundleInvalid(message: string, value?: unknown, cause?: unknown): HiveStorageError {
  return new HiveStorageError('BUNDLE_INVALID', `invalid bundle: ${message}`, {
    ...(value === undefined ? {} : { value }),
    ...(cause === undefined ? {} : { cause }),
  })
}
