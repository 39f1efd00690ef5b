import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnChild, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { BlobStore } from '../src/index.js'

const script = join(import.meta.dirname, 'fixtures', 'writer.ts')

describe('a writer killed with SIGKILL at random points', () => {
  it('never leaves a partial blob under a final name; gc removes its temp files', async () => {
    const dir = tempDir()
    const root = join(dir, 'blobs')
    const store = new BlobStore({ root, frameSize: 64 * 1024 })
    let completed = 0
    let killedMidWrite = 0
    let tempsBefore = 0
    for (let round = 0; round < 12; round++) {
      const child = spawnChild(script, [root, String(round + 1)])
      let output = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk
      })
      // Let it get going (tsx start-up), then kill it at a random moment.
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk
      })
      const exitedEarly = await new Promise<boolean>((resolve) => {
        const started = () => {
          child.stdout?.off('data', started)
          setTimeout(() => resolve(false), 5 + Math.random() * 150)
        }
        child.stdout?.on('data', started)
        child.on('exit', () => resolve(true))
      })
      expect(exitedEarly, `the writer died on its own: ${stderr}`).toBe(false)
      child.kill('SIGKILL')
      await new Promise((resolve) => child.on('close', resolve))
      completed += output.split('\n').filter(Boolean).length

      // Every blob under a final name is whole: its content hashes to its name.
      for await (const blob of store.list()) {
        const result = await store.verify(blob.hash)
        expect(result, `round ${round}: ${blob.path}`).toEqual({ hash: blob.hash, ok: true })
      }
      const temps = readdirSync(join(root, 'tmp')).length
      if (temps > tempsBefore) killedMidWrite += 1
      tempsBefore = temps
    }
    expect(completed).toBeGreaterThan(12)
    // Most kills land mid-write (the writer is always writing); each leaves a temp file.
    expect(killedMidWrite).toBeGreaterThan(3)
    const gc = await store.gc({ isLive: () => true, graceMs: 0 })
    expect(gc.tempFiles).toBeGreaterThan(3)
    expect(readdirSync(join(root, 'tmp'))).toEqual([])
  }, 120_000)
})
