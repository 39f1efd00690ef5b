import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { createRequire } from 'node:module'

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

// Resolved from here, so child processes find tsx whatever their working directory.
const tsx = createRequire(import.meta.url).resolve('tsx')

/**
 * Starts a real Node.js process running a TypeScript (or JavaScript) file through tsx, so tests
 * can run the package's sources in a separate process: crash tests, multi-process contention.
 */
export function spawnChild(
  script: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildProcess {
  return spawn(process.execPath, ['--import', tsx, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  })
}

/** Runs {@link spawnChild} to completion and collects its output. */
export function runChild(
  script: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<ChildResult> {
  const child = spawnChild(script, args, options)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}
