export type { ErrorCode, HiveStorageErrorOptions, ValidationIssue } from './hive-storage-error.js'
export { HiveStorageError, isHiveStorageError } from './hive-storage-error.js'
export type { InputSchema } from './parse-input.js'
export { parseInput } from './parse-input.js'
