import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const tailLines = 30

/** One server process of a benchmark cluster; its output is read continuously and its last lines kept. */
export class ClusterProcess {
  readonly exited: Promise<void>
  private readonly tail: string[] = []
  private readonly lineListeners = new Set<(line: string) => void>()

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    for (const stream of [child.stdout!, child.stderr!]) {
      // Reading every line also keeps a chatty server from blocking on a full pipe.
      createInterface({ input: stream }).on('line', (line) => {
        this.tail.push(line)
        if (this.tail.length > tailLines) this.tail.shift()
        for (const listener of this.lineListeners) listener(line)
      })
    }
  }

  static spawn(label: string, command: string, args: readonly string[]): ClusterProcess {
    installExitHook()
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const started = new ClusterProcess(label, child)
    running.add(started)
    void started.exited.then(() => running.delete(started))
    return started
  }

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Resolves with the first non-undefined `match` of an output line; fails if the process exits first. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer)
        this.lineListeners.delete(listener)
        settle()
      }
      const listener = (line: string) => {
        const found = match(line)
        if (found !== undefined) finish(() => resolve(found))
      }
      const timeout = () => finish(() => reject(this.failure(`printed no expected line within ${timeoutMs} ms`)))
      const timer = setTimeout(timeout, timeoutMs)
      this.lineListeners.add(listener)
      void this.exited.then(() => finish(() => reject(this.failure('exited'))))
    })
  }

  /** Sends `signal` without waiting for its effect (SIGSTOP leaves the process in place, stopped). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal)
  }

  /** Sends `signal` and resolves once the process is gone. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    this.signal(signal)
    await this.exited
  }

  /** An error that quotes the last lines of output, for a process that misbehaved. */
  failure(what: string): Error {
    return new Error(`${this.label} ${what}; last output:\n${this.tail.join('\n')}`)
  }
}

const running = new Set<ClusterProcess>()
const tempDirs = new Set<string>()
let exitHookInstalled = false

/** A fresh directory under the OS temp dir, removed by `removeTempDir` or `stopEverything`. */
export function makeTempDir(prefix: string): string {
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** Kills every cluster process still running and removes every temp dir; for the end of a run, good or bad. */
export async function stopEverything(): Promise<void> {
  await Promise.all([...running].map((clusterProcess) => clusterProcess.kill('SIGKILL')))
  for (const dir of [...tempDirs]) removeTempDir(dir)
}

/** `count` distinct ports the OS considers free on 127.0.0.1, for servers that need them named up front. */
export async function freePorts(count: number): Promise<number[]> {
  // All are held open together, so that the OS cannot hand out the same port twice.
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer()
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve(server))
      })
    }),
  )
  const ports = servers.map((server) => (server.address() as AddressInfo).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

/** Last resort when the benchmark exits without cleaning up: kill the processes, drop their data. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    // Only synchronous work runs in an exit handler; kill() sends its signal before its first await.
    for (const clusterProcess of running) void clusterProcess.kill('SIGKILL')
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
}
