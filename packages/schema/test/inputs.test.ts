import { describe, expect, it } from 'vitest'
import {
  cellPatchSchema,
  ids,
  MAX_JSON_BYTES,
  newArtifactSchema,
  newCellSchema,
  newEventSchema,
  newMetricSchema,
  newWorkspaceSchema,
} from '../src/index.js'

const workspaceId = ids.workspace()

describe('newCellSchema', () => {
  it('accepts a minimal cell and trims its name', () => {
    const cell = newCellSchema.parse({ workspaceId, name: '  Fix login  ', type: 'implementation' })
    expect(cell.name).toBe('Fix login')
  })

  it('reports every problem of a bad cell', () => {
    const result = newCellSchema.safeParse({
      workspaceId: 'cell_wrongprefix',
      name: '',
      type: 'spaceship',
      baseCommit: 'not-a-hash',
      metadata: { nested: { fine: [1, 'two', null] } },
    })
    expect(result.success).toBe(false)
    const paths = result.error?.issues.map((issue) => issue.path.join('.')).sort()
    expect(paths).toEqual(['baseCommit', 'name', 'type', 'workspaceId'])
  })

  it('rejects control characters in names and oversized metadata', () => {
    expect(newCellSchema.safeParse({ workspaceId, name: 'a\u0000b', type: 'manual' }).success).toBe(false)
    // A cell starts as a draft or provisioning: it does not skip its lifecycle.
    expect(
      newCellSchema.safeParse({ workspaceId, name: 'a', type: 'manual', status: 'provisioning' }).success,
    ).toBe(true)
    expect(
      newCellSchema.safeParse({ workspaceId, name: 'a', type: 'manual', status: 'completed' }).success,
    ).toBe(false)
    const big = { blob: 'x'.repeat(MAX_JSON_BYTES) }
    expect(newCellSchema.safeParse({ workspaceId, name: 'a', type: 'manual', metadata: big }).success).toBe(
      false,
    )
  })

  it('rejects metadata that is not JSON', () => {
    const metadata = { when: new Date(), n: Number.NaN }
    expect(newCellSchema.safeParse({ workspaceId, name: 'a', type: 'manual', metadata }).success).toBe(false)
  })
})

describe('cellPatchSchema', () => {
  it('requires at least one field and forbids changing type or status', () => {
    expect(cellPatchSchema.safeParse({}).success).toBe(false)
    expect(cellPatchSchema.safeParse({ name: 'New name' }).success).toBe(true)
    const typed = cellPatchSchema.safeParse({ name: 'x', type: 'planning' })
    expect(typed.success && 'type' in typed.data).toBe(false)
  })
})

describe('other inputs', () => {
  it('validates workspaces, events, metrics and artifacts', () => {
    expect(newWorkspaceSchema.safeParse({ name: 'hive', rootPath: 'relative/path' }).success).toBe(false)
    expect(newWorkspaceSchema.safeParse({ name: 'hive', rootPath: '/src/hive' }).success).toBe(true)
    expect(newEventSchema.safeParse({ type: 'Cell Status', source: 'agent' }).success).toBe(false)
    expect(newEventSchema.safeParse({ type: 'cell.status_changed', source: 'agent' }).success).toBe(true)
    expect(
      newMetricSchema.safeParse({ name: 'agent.retries', value: Number.POSITIVE_INFINITY }).success,
    ).toBe(false)
    expect(
      newArtifactSchema.safeParse({
        cellId: ids.cell(),
        type: 'log',
        name: 'build.log',
        contentType: 'text/plain; charset=utf-8',
      }).success,
    ).toBe(true)
    expect(
      newArtifactSchema.safeParse({
        cellId: ids.cell(),
        type: 'log',
        name: 'build.log',
        contentType: 'not a mime',
      }).success,
    ).toBe(false)
  })
})
