import type { CellStatus } from './enums.js'

/**
 * The cell lifecycle as data: for each status, the statuses a cell may move to next.
 * `draft → provisioning → active ⇄ awaiting_input → reviewing → completed | parked → archived`,
 * with `error` reachable from every working state and left by retrying or shelving.
 */
export const CELL_STATUS_TRANSITIONS: Readonly<Record<CellStatus, readonly CellStatus[]>> = {
  draft: ['provisioning', 'archived'],
  provisioning: ['active', 'error', 'parked'],
  active: ['awaiting_input', 'reviewing', 'parked', 'error'],
  awaiting_input: ['active', 'reviewing', 'parked', 'error'],
  reviewing: ['active', 'completed', 'parked', 'error'],
  completed: ['archived'],
  parked: ['active', 'provisioning', 'archived'],
  error: ['provisioning', 'active', 'parked', 'archived'],
  archived: [],
}

/**
 * Whether a cell may move from `from` to `to` (staying in the same status is not a transition).
 *
 * @example
 * ```ts
 * canTransition('draft', 'provisioning') // true
 * canTransition('archived', 'active') // false
 * ```
 */
export function canTransition(from: CellStatus, to: CellStatus): boolean {
  return CELL_STATUS_TRANSITIONS[from]?.includes(to) ?? false
}
