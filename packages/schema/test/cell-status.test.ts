import { describe, expect, it } from 'vitest'
import { CELL_STATUS_TRANSITIONS, CELL_STATUSES, type CellStatus, canTransition } from '../src/index.js'

describe('CELL_STATUS_TRANSITIONS', () => {
  it('has an entry for every status and only names known statuses', () => {
    expect(Object.keys(CELL_STATUS_TRANSITIONS).sort()).toEqual([...CELL_STATUSES].sort())
    for (const targets of Object.values(CELL_STATUS_TRANSITIONS)) {
      for (const target of targets) expect(CELL_STATUSES).toContain(target)
    }
  })

  it('follows the documented lifecycle', () => {
    const path: CellStatus[] = [
      'draft',
      'provisioning',
      'active',
      'awaiting_input',
      'active',
      'reviewing',
      'completed',
      'archived',
    ]
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true)
  })

  it('reaches every status from draft, and archived from every status', () => {
    const reachable = new Set<CellStatus>(['draft'])
    const queue: CellStatus[] = ['draft']
    while (queue.length > 0) {
      for (const next of CELL_STATUS_TRANSITIONS[queue.shift()!]) {
        if (!reachable.has(next)) {
          reachable.add(next)
          queue.push(next)
        }
      }
    }
    expect([...reachable].sort()).toEqual([...CELL_STATUSES].sort())
    for (const status of CELL_STATUSES) {
      const seen = new Set<CellStatus>([status])
      const todo: CellStatus[] = [status]
      while (todo.length > 0)
        for (const n of CELL_STATUS_TRANSITIONS[todo.shift()!]) if (!seen.has(n)) seen.add(n) && todo.push(n)
      expect(seen.has('archived')).toBe(true)
    }
  })
})

describe('canTransition', () => {
  it('refuses moves the map does not allow', () => {
    expect(canTransition('archived', 'active')).toBe(false)
    expect(canTransition('draft', 'completed')).toBe(false)
    expect(canTransition('completed', 'active')).toBe(false)
  })

  it('does not count staying put as a transition', () => {
    for (const status of CELL_STATUSES) expect(canTransition(status, status)).toBe(false)
  })

  it('answers false for a status it does not know', () => {
    expect(canTransition('nonsense' as CellStatus, 'active')).toBe(false)
  })
})
