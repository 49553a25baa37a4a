import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg, totalmem } from 'node:os'
import { repoRoot } from './paths.js'

export interface Environment {
  date: string
  cpus: number
  cpuModel: string
  memoryBytes: number
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number
  node: string
  /** Installed versions of the packages whose code is measured. */
  packages: Record<string, string>
  /** The commit benchmarked, marked when the working tree had changes on top of it. */
  commit: string
}

const measuredPackages = ['yjs', 'ws', '@y/websocket-server', 'y-websocket', '@hocuspocus/server', '@hocuspocus/provider', 'lmdb']

export function describeEnvironment(): Environment {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  return {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryBytes: totalmem(),
    loadAverage: loadavg()[0] ?? 0,
    node: process.version,
    packages: Object.fromEntries(measuredPackages.map((name) => [name, installedVersion(name)])),
    commit: gitCommit(),
  }
}

function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(`${repoRoot}node_modules/${name}/package.json`, 'utf8')) as { version: string }
  return manifest.version
}

function gitCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    const dirty = git('status', '--porcelain', '--untracked-files=no').length > 0
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (with uncommitted changes)' : ''}`
  } catch {
    return 'unknown'
  }
}
