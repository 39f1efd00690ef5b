import type { MessageInfo, PartInput } from '@hive/queries'

export interface DemoOpencodeSessionsOptions {
  /** The same seed gives the same sessions, ids and numbers (default 1). */
  readonly seed?: number
  /** Top-level sessions to make (default 3, at most 50); the first has one sub-agent session more. */
  readonly sessions?: number
}

/** An OpenCode session object as `client.session.get()` returns it. */
export type DemoSession = {
  readonly id: string
  readonly slug: string
  readonly version: string
  readonly projectID: string
  readonly directory: string
  readonly parentID?: string
  readonly title: string
  readonly permission?: ReadonlyArray<{ permission: string; pattern: string; action: string }>
  readonly time: { readonly created: number; readonly updated: number }
  readonly summary: { readonly additions: number; readonly deletions: number; readonly files: number }
}

/** One generated session: the session object and what `client.session.messages()` would return. */
export type DemoOpencodeSession = {
  readonly session: DemoSession
  readonly messages: Array<{ info: MessageInfo & { id: string }; parts: Array<PartInput & { id: string }> }>
}

/**
 * Realistic OpenCode sessions, made up by this code and deterministic from a seed, in the SDK's
 * shape: user prompts; assistant messages of one step each (`step-start` … `step-finish` with
 * tokens and cost) holding text, reasoning and tool calls (`read`, `bash`, `edit` with its diff,
 * `grep`, `task`); `patch` parts after edits; a test run whose output is over 64 KiB (so that
 * ingestion moves it to the blob store); and one sub-agent session started by the `task` tool.
 * The first `sessions` entries are the top-level sessions; the sub-agent session comes after
 * them (so after its parent, which is the first). Ids follow OpenCode's scheme (ascending for
 * messages and parts, descending for sessions), so sorting ids gives creation order.
 *
 * @example
 * ```ts
 * for (const { session, messages } of demoOpencodeSessions({ seed: 7 })) {
 *   await ingestOpencodeMessages(store, { cellId, session, messages })
 * }
 * ```
 */
export function demoOpencodeSessions(options: DemoOpencodeSessionsOptions = {}): DemoOpencodeSession[] {
  const seed = options.seed ?? 1
  const count = options.sessions ?? 3
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, not ${seed}`)
  if (!Number.isInteger(count) || count < 0 || count > 50) {
    throw new RangeError(`sessions must be a whole number from 0 to 50, not ${count}`)
  }
  const random = mulberry32(seed)
  const ids = new OpencodeIds(random)
  // Some day in January 2026, 09:00 UTC.
  const clock = {
    now: Date.UTC(2026, 0, 5 + Math.floor(random() * 20), 9, 0, 0) + Math.floor(random() * 3_600_000),
  }
  const offset = Math.floor(random() * SCENARIOS.length)
  const topLevel: DemoOpencodeSession[] = []
  const subagents: DemoOpencodeSession[] = []
  for (let i = 0; i < count; i++) {
    const scenario = SCENARIOS[(offset + i) % SCENARIOS.length] as Scenario
    const round = Math.floor(i / SCENARIOS.length)
    const [session, ...children] = new SessionMaker(random, ids, clock, scenario, round, i === 0).make()
    topLevel.push(session as DemoOpencodeSession)
    subagents.push(...children)
    clock.now += 3_600_000 + Math.floor(random() * 7_200_000)
  }
  return [...topLevel, ...subagents]
}

// ---- the scenarios: small projects and the changes asked of the agent ----

interface Model {
  readonly providerID: string
  readonly modelID: string
  /** $ per million tokens: input, output, cache read, cache write. */
  readonly prices: readonly [number, number, number, number]
}

const SONNET: Model = { providerID: 'anthropic', modelID: 'claude-sonnet-4-5', prices: [3, 15, 0.3, 3.75] }
const CODEX: Model = { providerID: 'openai', modelID: 'gpt-5.1-codex', prices: [1.25, 10, 0.125, 0] }

interface Scenario {
  readonly project: string
  readonly title: string
  readonly prompt: string
  readonly model: Model
  readonly file: string
  readonly before: string
  readonly oldString: string
  readonly newString: string
  readonly test: string
  readonly failure: string
  readonly intro: string
  readonly thoughts: readonly string[]
  readonly summary: string
}

const WORKER = `import { Job, JobQueue } from './queue'

export interface WorkerOptions {
  concurrency: number
  maxAttempts: number
}

export async function runJob(queue: JobQueue, job: Job, options: WorkerOptions): Promise<void> {
  try {
    await job.handler(job.payload)
    await queue.complete(job.id)
  } catch (error) {
    if (job.attempts + 1 >= options.maxAttempts) {
      await queue.fail(job.id, String(error))
      return
    }
    await queue.retry(job.id)
  }
}
`

const CRAWL = `import { parseLinks } from './html'

export function nextUrls(page: string, base: URL, seen: Set<string>): URL[] {
  const urls: URL[] = []
  for (const href of parseLinks(page)) {
    const url = new URL(href, base)
    if (seen.has(url.href)) continue
    seen.add(url.href)
    urls.push(url)
  }
  return urls
}
`

const PURGE = `import { Command } from 'commander'
import { openQueue } from '../queue'

export const purge = new Command('purge')
  .description('delete finished jobs older than --days')
  .option('--days <n>', 'age in days', '30')
  .action(async (options: { days: string }) => {
    const queue = await openQueue()
    const removed = await queue.purge({ olderThanDays: Number(options.days) })
    console.log(\`removed \${removed} jobs\`)
  })
`

const TABLE = `export type Align = 'left' | 'right'

export function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
  return rows
    .map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | '))
    .join('\\n')
}
`

const SCENARIOS: readonly Scenario[] = [
  {
    project: 'taskq',
    title: 'Retry failed jobs with exponential backoff',
    prompt:
      'Jobs that throw are retried immediately by runJob in src/worker.ts, which hammers flaky upstream services. Retry them with exponential backoff instead (base 200 ms, doubling, capped at 30 s, with jitter), and keep maxAttempts. Add tests and run npm test.',
    model: SONNET,
    file: 'src/worker.ts',
    before: WORKER,
    oldString: '    await queue.retry(job.id)\n',
    newString:
      '    const delay = Math.min(30_000, 200 * 2 ** job.attempts)\n    const jitter = Math.floor(Math.random() * delay * 0.2)\n    await queue.retry(job.id, { delayMs: delay + jitter })\n',
    test: 'npm test',
    failure:
      'FAIL  test/worker.test.ts > runJob > backs off exponentially between attempts\nAssertionError: expected retry to be called with { delayMs: 200 } but it was called with no delay',
    intro:
      "I'll read the worker and the queue's retry API first, then look for where timeouts are configured.",
    thoughts: [
      'The queue already supports a delayed retry through its options; runJob just never passes one.',
    ],
    summary:
      'runJob now retries with exponential backoff: 200 ms doubling per attempt, capped at 30 s, plus up to 20% jitter so that failed jobs do not retry in lockstep. maxAttempts still ends in `queue.fail`. The new backoff tests and the whole suite pass.',
  },
  {
    project: 'linkcheck',
    title: 'Skip mailto: and tel: links when crawling',
    prompt:
      'The crawler reports every mailto: link as a broken URL. nextUrls in src/crawl.ts should only follow http and https links; skip mailto:, tel:, javascript: and the like. Add a test.',
    model: SONNET,
    file: 'src/crawl.ts',
    before: CRAWL,
    oldString: '    const url = new URL(href, base)\n',
    newString:
      "    const url = new URL(href, base)\n    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue\n",
    test: 'npm test -- crawl',
    failure:
      'FAIL  test/crawl.test.ts > nextUrls > ignores mailto and tel links\nexpected [ "mailto:team@example.com" ] to deeply equal []',
    intro: 'Let me look at how nextUrls resolves links before changing it.',
    thoughts: [
      'Resolving against the base first means relative links keep working; the protocol check belongs after it.',
    ],
    summary:
      'nextUrls now skips any link whose protocol is not http: or https: (mailto:, tel:, javascript:, data:), after resolving it against the page, so relative links still work. Added a test with each kind; the crawl tests pass.',
  },
  {
    project: 'taskq',
    title: 'Add a --dry-run flag to the purge command',
    prompt:
      'Add --dry-run to `taskq purge`: it should print how many jobs would be removed and remove nothing. Reuse the queue query, do not duplicate it.',
    model: CODEX,
    file: 'src/cli/purge.ts',
    before: PURGE,
    oldString: `    const removed = await queue.purge({ olderThanDays: Number(options.days) })\n    console.log(\`removed \${removed} jobs\`)\n`,
    newString: `    const removed = await queue.purge({ olderThanDays: Number(options.days), dryRun: options.dryRun === true })\n    console.log(options.dryRun ? \`would remove \${removed} jobs\` : \`removed \${removed} jobs\`)\n`,
    test: 'npm test -- purge',
    failure:
      'FAIL  test/cli/purge.test.ts > purge --dry-run > removes nothing\nexpected 0 rows deleted, got 14',
    intro: 'I will check how purge builds its query so the dry run can count with the same filter.',
    thoughts: [
      'queue.purge builds the filter and deletes in one statement; a dryRun option that counts with the same filter avoids a second copy of the query.',
      'The option must be declared on the command too, or commander rejects it.',
    ],
    summary:
      '`taskq purge --dry-run` now reports how many jobs would be removed (same filter, a count instead of a delete) and changes nothing; without the flag it behaves as before. Added a test for both paths.',
  },
  {
    project: 'mdtable',
    title: 'Right-align numeric columns in tables',
    prompt:
      'formatTable pads every cell on the right. Columns whose cells (below the header) are all numbers should be right-aligned, like in a spreadsheet. Keep the output otherwise identical.',
    model: CODEX,
    file: 'src/table.ts',
    before: TABLE,
    oldString: "    .map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | '))\n",
    newString:
      "    .map((row) =>\n      row\n        .map((cell, column) => (numeric[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))\n        .join(' | '),\n    )\n",
    test: 'npm test',
    failure:
      'FAIL  test/table.test.ts > formatTable > right-aligns numeric columns\nExpected: "   12 | apples"\nReceived: "12    | apples"',
    intro: "I'll read formatTable and its tests to see how widths are computed.",
    thoughts: [
      'A column is numeric when every cell after the header parses as a finite number; empty cells should not make it textual.',
    ],
    summary:
      'formatTable right-aligns columns whose body cells are all numbers (the header stays part of the width); other columns are padded as before, so existing output is unchanged. Tests for mixed and numeric columns pass.',
  },
]

// ---- making one session ----

interface Clock {
  now: number
}

type Info = MessageInfo & { id: string }
type Part = PartInput & { id: string }

class SessionMaker {
  readonly #random: () => number
  readonly #ids: OpencodeIds
  readonly #clock: Clock
  readonly #scenario: Scenario
  readonly #round: number
  readonly #withExtras: boolean
  readonly #dir: string
  readonly #projectID: string
  #context = 9000
  #snapshot: string

  constructor(
    random: () => number,
    ids: OpencodeIds,
    clock: Clock,
    scenario: Scenario,
    round: number,
    withExtras: boolean,
  ) {
    this.#random = random
    this.#ids = ids
    this.#clock = clock
    this.#scenario = scenario
    this.#round = round
    this.#withExtras = withExtras
    this.#dir = `/home/dev/code/${scenario.project}`
    this.#projectID = hexOf(scenario.project, 40)
    this.#snapshot = this.#hex(40)
  }

  make(): DemoOpencodeSession[] {
    const s = this.#scenario
    const created = this.#tick(0)
    const id = this.#ids.next('ses', created, true)
    const messages: DemoOpencodeSession['messages'] = []
    const children: DemoOpencodeSession[] = []
    const title = this.#round === 0 ? s.title : `${s.title} (follow-up ${this.#round})`
    const path = `${this.#dir}/${s.file}`
    const after = s.before.replace(s.oldString, s.newString)
    const additions = s.newString.split('\n').length - 1
    const deletions = s.oldString.split('\n').length - 1

    const user = this.#user(id, s.prompt, {
      title: s.title,
      diffs: [{ file: s.file, before: s.before, after, additions, deletions }],
    })
    messages.push(user)
    const ask = user.info.id

    // Step 1: look at the code (and, in the first session, ask a sub-agent).
    messages.push(
      this.#step(id, ask, 'tool-calls', (m, add) => {
        if (s.model === CODEX) add(this.#reasoning(id, m, s.thoughts[0] ?? ''))
        add(this.#text(id, m, s.intro))
        add(
          this.#tool(id, m, 'read', { filePath: path }, readOutput(s.before), s.file, {
            preview: s.before.slice(0, 200),
            truncated: false,
          }),
        )
        if (this.#withExtras) {
          const description = `Find where ${s.project} configures retries and timeouts`
          const callStart = this.#clock.now
          const child = this.#subagent(id, description)
          children.push(child)
          const last = child.messages.at(-1)?.parts.find((p) => p.type === 'text') as
            | { text?: string }
            | undefined
          add(
            this.#toolAt(
              id,
              m,
              'task',
              {
                description,
                prompt: `${description}. Report file paths and line numbers.`,
                subagent_type: 'explore',
              },
              `${last?.text ?? ''}\n\n<task_metadata>\nsession_id: ${child.session.id}\n</task_metadata>`,
              description,
              {
                summary: child.messages.flatMap((msg) =>
                  msg.parts
                    .filter((p) => p.type === 'tool')
                    .map((p) => ({ id: p.id, tool: String(p.tool), state: { status: 'completed' } })),
                ),
                sessionId: child.session.id,
              },
              callStart,
            ),
          )
        }
      }),
    )

    // Step 2: reproduce with a failing test.
    messages.push(
      this.#step(id, ask, 'tool-calls', (m, add) => {
        add(this.#text(id, m, 'Adding a test for the expected behaviour, then running it to see it fail.'))
        add(
          this.#bash(
            id,
            m,
            s.test,
            `Run ${s.test.replace('npm test -- ', '')} tests`,
            `${s.failure}\n\n Test Files  1 failed | 7 passed (8)\n      Tests  1 failed | 41 passed (42)\n`,
            1,
          ),
        )
      }),
    )

    // Step 3: the change.
    const diff = unifiedDiff(path, s.before, after)
    const editSnapshot = this.#snapshot
    messages.push(
      this.#step(id, ask, 'tool-calls', (m, add) => {
        if (s.model === CODEX && s.thoughts[1]) add(this.#reasoning(id, m, s.thoughts[1]))
        add(
          this.#tool(
            id,
            m,
            'edit',
            { filePath: path, oldString: s.oldString, newString: s.newString },
            'Edit applied successfully.',
            s.file,
            {
              diagnostics: {},
              diff,
              filediff: { file: path, before: s.before, after, additions, deletions },
            },
          ),
        )
      }),
    )
    const editMessage = messages.at(-1) as DemoOpencodeSession['messages'][number]
    editMessage.parts.push(
      this.#part(id, editMessage.info.id, { type: 'patch', hash: editSnapshot, files: [path] }),
    )
    this.#snapshot = this.#hex(40)

    // Step 4: verify and report.
    messages.push(
      this.#step(id, ask, 'stop', (m, add) => {
        if (this.#withExtras) {
          add(
            this.#bash(
              id,
              m,
              'npm test -- --reporter=verbose',
              'Run the whole suite verbosely',
              verboseRun(this.#random, s.project, 1400),
              0,
            ),
          )
        } else {
          add(
            this.#bash(
              id,
              m,
              s.test,
              'Run the tests again',
              '\n Test Files  8 passed (8)\n      Tests  43 passed (43)\n',
              0,
            ),
          )
        }
        add(this.#text(id, m, s.summary))
      }),
    )
    // A short follow-up turn.
    const thanks = this.#user(id, 'Thanks. Is anything left to do before I open a PR?')
    messages.push(thanks)
    messages.push(
      this.#step(id, thanks.info.id, 'stop', (m, add) => {
        add(
          this.#text(
            id,
            m,
            `Only the changelog: add a line for "${s.title.toLowerCase()}" under Unreleased. Everything else is covered by the tests I ran.`,
          ),
        )
      }),
    )

    const session: DemoSession = {
      id,
      slug: this.#slug(),
      version: '1.1.65',
      projectID: this.#projectID,
      directory: this.#dir,
      title,
      time: { created, updated: this.#clock.now },
      summary: { additions, deletions, files: 1 },
    }
    return [{ session, messages }, ...children]
  }

  /** A sub-agent session run by the `task` tool, while the parent's tool call is running. */
  #subagent(parentID: string, description: string): DemoOpencodeSession {
    const created = this.#tick(50)
    const id = this.#ids.next('ses', created, true)
    const user = this.#user(id, `${description}. Report file paths and line numbers.`, undefined, 'explore')
    ;(user.info as Record<string, unknown>).tools = { todowrite: false, todoread: false, task: false }
    const messages: DemoOpencodeSession['messages'] = [user]
    const config = `${this.#dir}/src/config.ts`
    messages.push(
      this.#step(
        id,
        user.info.id,
        'tool-calls',
        (m, add) => {
          add(
            this.#tool(
              id,
              m,
              'grep',
              { pattern: 'timeout|maxAttempts', path: this.#dir, include: '*.ts' },
              `Found 3 matches\n${config}:\n  Line 4:   timeoutMs: 30_000,\n  Line 5:   maxAttempts: 5,\n${this.#dir}/src/worker.ts:\n  Line 5:   maxAttempts: number`,
              'timeout|maxAttempts',
              { matches: 3, truncated: false },
            ),
          )
        },
        'explore',
      ),
    )
    messages.push(
      this.#step(
        id,
        user.info.id,
        'stop',
        (m, add) => {
          add(
            this.#text(
              id,
              m,
              `Retries and timeouts are configured in src/config.ts: timeoutMs (line 4, 30 s) and maxAttempts (line 5, 5 attempts). src/worker.ts only reads maxAttempts from WorkerOptions (line 5); nothing sets a delay between attempts.`,
            ),
          )
        },
        'explore',
      ),
    )
    return {
      session: {
        id,
        slug: this.#slug(),
        version: '1.1.65',
        projectID: this.#projectID,
        directory: this.#dir,
        parentID,
        title: `${description} (@explore subagent)`,
        permission: [
          { permission: 'todowrite', pattern: '*', action: 'deny' },
          { permission: 'task', pattern: '*', action: 'deny' },
        ],
        time: { created, updated: this.#clock.now },
        summary: { additions: 0, deletions: 0, files: 0 },
      },
      messages,
    }
  }

  #user(
    sessionID: string,
    text: string,
    summary?: Record<string, unknown>,
    agent = 'build',
  ): DemoOpencodeSession['messages'][number] {
    const created = this.#tick(4000)
    const id = this.#ids.next('msg', created)
    const info: Info = {
      id,
      sessionID,
      role: 'user',
      time: { created },
      agent,
      model: { providerID: this.#scenario.model.providerID, modelID: this.#scenario.model.modelID },
      ...(summary ? { summary } : {}),
    }
    return { info, parts: [this.#part(sessionID, id, { type: 'text', text })] }
  }

  /** One assistant message: one LLM request, from step-start to step-finish. */
  #step(
    sessionID: string,
    parentID: string,
    finish: 'tool-calls' | 'stop',
    body: (messageID: string, add: (part: Part) => void) => void,
    agent = 'build',
  ): DemoOpencodeSession['messages'][number] {
    const created = this.#tick(40)
    const id = this.#ids.next('msg', created)
    const model = this.#scenario.model
    const parts: Part[] = []
    this.#tick(1500)
    parts.push(this.#part(sessionID, id, { type: 'step-start', snapshot: this.#snapshot }))
    body(id, (part) => parts.push(part))
    const output = 60 + Math.floor(this.#random() * 500)
    const written = 300 + Math.floor(this.#random() * 2500)
    const reasoning = model === CODEX ? Math.floor(output * 0.4) : 0
    const tokens = {
      input: model === CODEX ? written : 3 + Math.floor(this.#random() * 8),
      output,
      reasoning,
      cache: { read: this.#context, write: model === CODEX ? 0 : written },
    }
    this.#context += written + output
    const [pin, pout, pread, pwrite] = model.prices
    const cost =
      Math.round(
        (tokens.input * pin + output * pout + tokens.cache.read * pread + tokens.cache.write * pwrite) * 100,
      ) / 1e8
    parts.push(
      this.#part(sessionID, id, {
        type: 'step-finish',
        reason: finish,
        snapshot: this.#snapshot,
        tokens,
        cost,
      }),
    )
    const info: Info = {
      id,
      sessionID,
      role: 'assistant',
      parentID,
      time: { created, completed: this.#tick(30) },
      modelID: model.modelID,
      providerID: model.providerID,
      mode: agent,
      agent,
      path: { cwd: this.#dir, root: this.#dir },
      cost,
      tokens,
      finish,
    }
    return { info, parts }
  }

  #text(sessionID: string, messageID: string, text: string): Part {
    const at = this.#tick(1200)
    return this.#part(sessionID, messageID, { type: 'text', text, time: { start: at, end: at } })
  }

  #reasoning(sessionID: string, messageID: string, text: string): Part {
    const start = this.#tick(300)
    return this.#part(sessionID, messageID, {
      type: 'reasoning',
      text,
      time: { start, end: this.#tick(2000) },
      metadata: { openai: { itemId: `rs_${this.#hex(32)}` } },
    })
  }

  #tool(
    sessionID: string,
    messageID: string,
    tool: string,
    input: Record<string, unknown>,
    output: string,
    title: string,
    metadata: Record<string, unknown>,
  ): Part {
    return this.#toolAt(sessionID, messageID, tool, input, output, title, metadata, this.#tick(400))
  }

  #toolAt(
    sessionID: string,
    messageID: string,
    tool: string,
    input: Record<string, unknown>,
    output: string,
    title: string,
    metadata: Record<string, unknown>,
    start: number,
  ): Part {
    const end = this.#tick(tool === 'bash' ? 4000 : 300)
    const callID =
      this.#scenario.model === CODEX ? `call_${this.#ids.random(24)}` : `toolu_01${this.#ids.random(22)}`
    return this.#part(sessionID, messageID, {
      type: 'tool',
      tool,
      callID,
      state: { status: 'completed', input, output, title, metadata, time: { start, end } },
    })
  }

  #bash(
    sessionID: string,
    messageID: string,
    command: string,
    description: string,
    output: string,
    exit: number,
  ): Part {
    const metadata = {
      output: output.length > 30_000 ? `${output.slice(0, 30_000)}\n\n...` : output,
      exit,
      description,
    }
    return this.#tool(sessionID, messageID, 'bash', { command, description }, output, description, metadata)
  }

  #part(sessionID: string, messageID: string, body: Record<string, unknown> & { type: string }): Part {
    const id = this.#ids.next('prt', this.#clock.now)
    return { id, sessionID, messageID, ...body }
  }

  /** Moves the clock on by up to `spread` ms (at least 1) and returns it. */
  #tick(spread: number): number {
    this.#clock.now += 1 + Math.floor(this.#random() * spread)
    return this.#clock.now
  }

  #hex(length: number): string {
    let out = ''
    while (out.length < length) out += Math.floor(this.#random() * 16).toString(16)
    return out
  }

  #slug(): string {
    const adjectives = ['calm', 'brave', 'quiet', 'swift', 'bright', 'gentle', 'clever', 'eager']
    const nouns = ['otter', 'falcon', 'harbor', 'comet', 'maple', 'canyon', 'lantern', 'meadow']
    const pick = (list: string[]) => list[Math.floor(this.#random() * list.length)] as string
    return `${pick(adjectives)}-${pick(nouns)}`
  }
}

// ---- OpenCode's ids: <prefix>_<12 hex of ms·4096 + counter><14 base62> ----

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

class OpencodeIds {
  readonly #random: () => number
  #lastMs = 0
  #counter = 0

  constructor(random: () => number) {
    this.#random = random
  }

  /** Ascending ids sort in creation order; descending ones (sessions) newest first. */
  next(prefix: 'ses' | 'msg' | 'prt', ms: number, descending = false): string {
    if (ms !== this.#lastMs) {
      this.#lastMs = ms
      this.#counter = 0
    }
    this.#counter += 1
    let value = BigInt(ms) * 0x1000n + BigInt(this.#counter)
    if (descending) value = ~value
    const hex = (value & 0xffff_ffff_ffffn).toString(16).padStart(12, '0')
    return `${prefix}_${hex}${this.random(14)}`
  }

  random(length: number): string {
    let out = ''
    for (let i = 0; i < length; i++) out += BASE62[Math.floor(this.#random() * 62)]
    return out
  }
}

// ---- content helpers ----

/** A small, good PRNG: the same seed, the same sequence. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** A stable hex string from a name (project ids are root-commit SHAs in OpenCode). */
function hexOf(name: string, length: number): string {
  const random = mulberry32(
    [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16_777_619), 2_166_136_261),
  )
  let out = ''
  while (out.length < length) out += Math.floor(random() * 16).toString(16)
  return out
}

/** The `read` tool's output in OpenCode 1.1: numbered lines inside `<file>`. */
function readOutput(content: string): string {
  const lines = content.replace(/\n$/, '').split('\n')
  const numbered = lines.map((line, i) => `${String(i + 1).padStart(5, '0')}| ${line}`)
  return `<file>\n${numbered.join('\n')}\n\n(End of file - total ${lines.length} lines)\n</file>`
}

/** A unified diff of one changed region, as the edit tool reports it. */
function unifiedDiff(path: string, before: string, after: string): string {
  const a = before.split('\n')
  const b = after.split('\n')
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  const from = Math.max(0, start - 3)
  const toA = Math.min(a.length, endA + 3)
  const toB = Math.min(b.length, endB + 3)
  const lines = [
    ...a.slice(from, start).map((l) => ` ${l}`),
    ...a.slice(start, endA).map((l) => `-${l}`),
    ...b.slice(start, endB).map((l) => `+${l}`),
    ...a.slice(endA, toA).map((l) => ` ${l}`),
  ]
  return [
    `Index: ${path}`,
    '===================================================================',
    `--- ${path}`,
    `+++ ${path}`,
    `@@ -${from + 1},${toA - from} +${from + 1},${toB - from} @@`,
    ...lines,
    '',
  ].join('\n')
}

/** A verbose test run of `tests` passing tests: well over 64 KiB of output. */
function verboseRun(random: () => number, project: string, tests: number): string {
  const areas = ['queue', 'worker', 'backoff', 'purge', 'config', 'cli', 'storage', 'scheduler']
  const verbs = ['handles', 'rejects', 'retries', 'keeps', 'returns', 'reports', 'skips', 'waits for']
  const objects = [
    'an empty queue',
    'a failed job',
    'the last attempt',
    'a delayed retry',
    'concurrent workers',
    'an expired lease',
    'invalid options',
    'a shutdown signal',
  ]
  const lines = [
    `> ${project}@1.4.0 test`,
    '> vitest run --reporter=verbose',
    '',
    ` RUN  v3.2.4 /home/dev/code/${project}`,
    '',
  ]
  for (let i = 0; i < tests; i++) {
    const area = areas[i % areas.length] as string
    const verb = verbs[Math.floor(random() * verbs.length)] as string
    const object = objects[Math.floor(random() * objects.length)] as string
    lines.push(
      ` ✓ test/${area}.test.ts > ${area} > ${verb} ${object} (case ${i + 1}) ${1 + Math.floor(random() * 40)}ms`,
    )
  }
  lines.push(
    '',
    ` Test Files  ${areas.length} passed (${areas.length})`,
    `      Tests  ${tests} passed (${tests})`,
    '',
  )
  return lines.join('\n')
}
