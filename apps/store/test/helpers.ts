import { join } from 'node:path'
import { type ChildResult, runChild } from '@hive/testing'
import { type CliIo, main } from '../src/index.js'

const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')

/** Runs the real `hive` command line in a child process. */
export function hive(
  args: readonly string[],
  options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildResult> {
  return runChild(cli, args, {
    env: { ...process.env, HIVE_DATA_DIR: '', ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  })
}

/** Runs `main` in this process, capturing its output. */
export async function hiveInProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
    env,
    now: Date.now,
  }
  const code = await main(args, io)
  return { code, stdout, stderr }
}
