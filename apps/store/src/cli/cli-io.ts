/** Where the command line reads its environment and writes its output (tests pass their own). */
export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: NodeJS.ProcessEnv
  readonly now: () => number
  /** Where progress bars go; none (quiet) when output is not a terminal. */
  readonly progress?: NodeJS.WritableStream | undefined
  /** Standard output is a terminal: live views redraw in place instead of scrolling. */
  readonly terminal?: boolean
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  now: Date.now,
  progress: process.stdout.isTTY && process.stderr.isTTY ? process.stderr : undefined,
  terminal: process.stdout.isTTY === true,
}
