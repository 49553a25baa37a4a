import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

// Run from the sources by vitest, or compiled into dist/ when a benchmark uses the helpers.
const mainJs = fileURLToPath(
  new URL(import.meta.url.includes('/dist/test/') ? '../../server/main.js' : '../../dist/server/main.js', import.meta.url),
)
const running = new Set<NodeProcess>()
/** A long chaos run logs for many minutes: keep the recent lines only. */
const maxLogLines = 20_000
/** What went wrong in a node that no test asked for, since the last `takeNodeProcessFailures`. */
const failures: string[] = []

/**
 * Failures of child nodes that the current test did not cause on purpose: an exit other than through
 * `kill`, or a log line at level fatal or saying `uncaught`. test/setup/fail-on-unhandled.ts fails the
 * test that saw one.
 */
export function takeNodeProcessFailures(): string[] {
  return failures.splice(0)
}

/** A real `syncmesh start` child process, built from dist/ by `npm test`. */
export class NodeProcess {
  readonly logLines: string[] = []
  private killedOnPurpose = false
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    running.add(this)
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    void this.exited.then(({ code, signal }) => {
      running.delete(this)
      if (!this.killedOnPurpose) failures.push(`node ${url} exited by itself (code ${code}, signal ${signal}); last lines:\n${this.logLines.slice(-5).join('\n')}`)
    })
  }

  static async start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
    const child = spawn(process.execPath, [mainJs, 'start', '--host', '127.0.0.1', '--port', '0', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines: string[] = []
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const url = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! })
      rl.on('line', (line) => {
        lines.push(line)
        if (line.includes('"msg":"listening"')) resolve(JSON.parse(line).url as string)
      })
      child.once('exit', (code) => reject(new Error(`syncmesh exited with ${code} before listening: ${stderr}`)))
    })
    const node = new NodeProcess(child, url)
    node.logLines.push(...lines)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      node.logLines.push(line)
      if (node.logLines.length > maxLogLines) node.logLines.shift()
      if (line.includes('"level":60') || line.includes('uncaught')) failures.push(`node ${url} logged: ${line.slice(0, 2_000)}`)
    })
    return node
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.killedOnPurpose = true
    this.child.kill(signal)
    return this.exited
  }

  /** Sends a signal that does not end the process, such as SIGSTOP or SIGCONT. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child.kill(signal)
  }

  get exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited
  }
}

export async function killAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.kill('SIGKILL')))
}

/**
 * `syncmesh start` flags for member `id` of a test cluster that shares `secret` and `adminToken`, on data
 * directory `data`, with a fast Raft clock (elections in tenths of a second).
 */
export function memberFlags(secret: string, adminToken: string) {
  return (id: string, data: string, extra: string[] = []): string[] => [
    ...['--id', id, '--data', data, '--cluster-secret', secret, '--admin-token', adminToken, '--raft-tick-ms', '20'],
    ...extra,
  ]
}
