/**
 * Progress of a long operation, as it reports it: what it is doing (`phase`), how far it is
 * (`done` of `total`, when the total is known) and, where it moves data, how many bytes.
 */
export interface ProgressEvent {
  readonly phase: string
  readonly done: number
  readonly total?: number
  readonly bytes?: number
}

/** Receives progress; must not throw (a listener that throws is ignored, not fatal). */
export type ProgressListener = (event: ProgressEvent) => void

/** Calls `listener` safely: an operation never fails because its observer did. */
export function reporter(listener: ProgressListener | undefined): ProgressListener {
  if (!listener) return () => {}
  return (event) => {
    try {
      listener(event)
    } catch {
      // The observer's problem, not the operation's.
    }
  }
}

/** One listener that calls each of `listeners` (those given). */
export function fanOut(...listeners: ReadonlyArray<ProgressListener | undefined>): ProgressListener {
  const present = listeners.filter((l): l is ProgressListener => l !== undefined).map(reporter)
  return (event) => {
    for (const listener of present) listener(event)
  }
}
