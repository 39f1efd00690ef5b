// The read pool's worker, as plain JavaScript run with `eval`: the same code serves the compiled
// package and the TypeScript sources under test, and needs no file of its own at run time.
export const READ_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const { path, busyTimeoutMs, cacheSizeKiB, statementCacheSize } = workerData
const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs })
db.pragma('cache_size = -' + cacheSizeKiB)
db.pragma('query_only = ON')
db.pragma('temp_store = MEMORY')
const cache = new Map()
function prepare(sql) {
  const cached = cache.get(sql)
  if (cached && !cached.busy) {
    cache.delete(sql)
    cache.set(sql, cached)
    return cached
  }
  const statement = db.prepare(sql)
  if (!statement.reader) throw Object.assign(new Error('the read pool runs queries that return rows only'), { code: 'HIVE_NOT_A_READ' })
  if (!cached && statementCacheSize > 0) {
    cache.set(sql, statement)
    if (cache.size > statementCacheSize) cache.delete(cache.keys().next().value)
  }
  return statement
}
function failure(error) {
  return { message: String((error && error.message) || error), code: error && typeof error.code === 'string' ? error.code : undefined }
}
const streams = new Map()
function pump(id) {
  const stream = streams.get(id)
  if (!stream) return
  try {
    const rows = []
    while (rows.length < stream.chunk) {
      const next = stream.iterator.next()
      if (next.done) {
        streams.delete(id)
        parentPort.postMessage({ id, rows, done: true })
        return
      }
      rows.push(next.value)
    }
    parentPort.postMessage({ id, rows, done: false })
  } catch (error) {
    streams.delete(id)
    parentPort.postMessage({ id, error: failure(error) })
  }
}
parentPort.on('message', (m) => {
  if (m.op === 'query') {
    try {
      parentPort.postMessage({ id: m.id, rows: prepare(m.sql).all(m.parameters) })
    } catch (error) {
      parentPort.postMessage({ id: m.id, error: failure(error) })
    }
  } else if (m.op === 'stream') {
    try {
      streams.set(m.id, { iterator: prepare(m.sql).iterate(m.parameters), chunk: m.chunk })
      pump(m.id)
    } catch (error) {
      parentPort.postMessage({ id: m.id, error: failure(error) })
    }
  } else if (m.op === 'next') {
    pump(m.id)
  } else if (m.op === 'cancel') {
    const stream = streams.get(m.id)
    streams.delete(m.id)
    if (stream) stream.iterator.return()
    parentPort.postMessage({ id: m.id, rows: [], done: true })
  }
})
`
