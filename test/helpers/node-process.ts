import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

// Run from the sources by vitest, or compiled into dist/ when a benchmark uses the helpers.
const mainJs = fileURLToPath(
  new URL(import.meta.url.includes('/dist/test/') ? '../../server/main.js' : '../../dist/server/main.js', import.meta.url),
)
const running = new Set<NodeProcess>()

/** A real `syncmesh start` child process, built from dist/ by `npm test`. */
export class NodeProcess {
  readonly logLines: string[] = []
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    running.add(this)
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    void this.exited.then(() => running.delete(this))
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
    createInterface({ input: child.stdout! }).on('line', (line) => node.logLines.push(line))
    return node
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal)
    return this.exited
  }

  get exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited
  }
}

export async function killAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.kill('SIGKILL')))
}
