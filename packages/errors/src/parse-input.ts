import { HiveStorageError, type ValidationIssue } from './hive-storage-error.js'

/** The slice of a zod schema that {@link parseInput} uses (kept structural: no zod dependency). */
export interface InputSchema<T> {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } }
}

/**
 * Validates outside input against a schema and returns the parsed value, or throws one
 * `INVALID_INPUT` {@link HiveStorageError} that lists every problem; `what` names the input in
 * the message.
 *
 * @example
 * ```ts
 * const cell = parseInput(newCellSchema, input, 'cell')
 * // throws: invalid cell: name: must not be empty (and 1 more)
 * ```
 */
export function parseInput<T>(schema: InputSchema<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issues: ValidationIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.filter((key): key is string | number => typeof key !== 'symbol'),
    message: issue.message,
  }))
  const first = issues[0]
  const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : ''
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
  throw new HiveStorageError(
    'INVALID_INPUT',
    `invalid ${what}: ${where}${first?.message ?? 'invalid'}${more}`,
    {
      value: input,
      issues,
    },
  )
}
