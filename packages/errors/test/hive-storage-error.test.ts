import { describe, expect, it } from 'vitest'
import { HiveStorageError, isHiveStorageError } from '../src/index.js'

describe('HiveStorageError', () => {
  it('carries code, value, issues and cause', () => {
    const cause = new Error('disk on fire')
    const error = new HiveStorageError('INVALID_INPUT', 'bad cell', {
      value: 'cell_x',
      cause,
      issues: [{ path: ['name'], message: 'required' }],
    })
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.value).toBe('cell_x')
    expect(error.cause).toBe(cause)
    expect(error.issues).toEqual([{ path: ['name'], message: 'required' }])
    expect(error.toJSON()).toEqual({
      code: 'INVALID_INPUT',
      message: 'bad cell',
      value: 'cell_x',
      issues: [{ path: ['name'], message: 'required' }],
    })
  })

  it('omits what it does not have from JSON', () => {
    expect(new HiveStorageError('NOT_FOUND', 'gone').toJSON()).toEqual({ code: 'NOT_FOUND', message: 'gone' })
  })
})

describe('isHiveStorageError', () => {
  it('recognises the family and filters by code', () => {
    const error = new HiveStorageError('NOT_FOUND', 'gone')
    expect(isHiveStorageError(error)).toBe(true)
    expect(isHiveStorageError(error, 'NOT_FOUND', 'CONFLICT')).toBe(true)
    expect(isHiveStorageError(error, 'CONFLICT')).toBe(false)
    expect(isHiveStorageError(new Error('plain'))).toBe(false)
    expect(isHiveStorageError({ name: 'HiveStorageError', code: 'NOT_FOUND' })).toBe(false)
  })

  it('recognises an error from another copy of the package by shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'HiveStorageError', code: 'CONFLICT' })
    expect(isHiveStorageError(foreign, 'CONFLICT')).toBe(true)
  })
})
