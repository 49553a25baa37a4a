import type { NodeProcess } from '../helpers/node-process.js'

const fatalLevel = 60
const errorLevel = 50
/** Lines of the node's own output a report shows, and how much of each. */
const keptLines = 40
const keptCharsPerLine = 1_000

/**
 * Watches a node under fuzz for what must never happen: its exit, and a log line that is fatal or mentions
 * an uncaught error. Keeps the tail of stderr and of error lines for the report.
 */
export class NodeWatch {
  private scanned = 0
  private readonly stderr: string[] = []
  private readonly errors: string[] = []
  /** How often the node logged each error message: no failure by itself, but where bugs hide. */
  readonly errorCounts = new Map<string, number>()
  private exitedWith: string | null = null
  private stopping = false

  constructor(
    private readonly node: NodeProcess,
    private readonly onFailure: (failure: string) => void,
  ) {
    node.child.stderr!.on('data', (chunk: Buffer) => keep(this.stderr, ...chunk.toString().split('\n').filter(Boolean)))
    void node.exit.then(({ code, signal }) => {
      this.exitedWith = signal ?? `code ${code}`
      this.scan()
      if (!this.stopping) onFailure(`the node exited (${this.exitedWith})`)
    })
  }

  get alive(): boolean {
    return this.exitedWith === null
  }

  /** The exit that follows is the fuzzer's doing, not a failure. */
  expectExit(): void {
    this.stopping = true
  }

  /** Reads the log lines that arrived since the last scan. */
  scan(): void {
    const lines = this.node.logLines
    for (; this.scanned < lines.length; this.scanned++) {
      const line = lines[this.scanned]!
      const entry = parseLogLine(line)
      if (entry.level >= errorLevel) {
        keep(this.errors, line)
        this.errorCounts.set(entry.summary, (this.errorCounts.get(entry.summary) ?? 0) + 1)
      }
      if (entry.level >= fatalLevel || /uncaught/i.test(line)) this.onFailure(`the node logged: ${entry.summary}`)
    }
  }

  /** The error a crash printed (its first line naming an error), if the node crashed. */
  crashError(): string | undefined {
    return this.stderr.find((line) => /\b\w*Error\b/.test(line) && !/^\s+at /.test(line))
  }

  /** What the node wrote to stderr and its error lines, last ones. */
  output(): string[] {
    return [...this.errors.map((line) => `log: ${line}`), ...this.stderr.map((line) => `stderr: ${line}`)]
  }
}

/** The level of a pino JSON line, and its message with the error's, short enough for a report. */
function parseLogLine(line: string): { level: number; summary: string } {
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { type?: unknown; message?: unknown } }
    const level = typeof entry.level === 'number' ? entry.level : 0
    const err = entry.err ? `: ${String(entry.err.type)}: ${String(entry.err.message)}` : ''
    return { level, summary: `${String(entry.msg)}${err}` }
  } catch {
    return { level: 0, summary: line.slice(0, 500) }
  }
}

function keep(lines: string[], ...more: string[]): void {
  lines.push(...more.map((line) => line.slice(0, keptCharsPerLine)))
  lines.splice(0, Math.max(0, lines.length - keptLines))
}
