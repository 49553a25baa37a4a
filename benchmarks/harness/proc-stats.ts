import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    ticksPerSecond = Number.isInteger(answer) && answer > 0 ? answer : 100
  }
  return ticksPerSecond
}

export interface CpuTime {
  userMicros: number
  systemMicros: number
}

/** User and system CPU time so far, from a /proc stat file (of a process or of one thread). */
function statCpu(path: string): CpuTime {
  const stat = readFileSync(path, 'utf8')
  // Field 2 (the command) is parenthesised and may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const micros = (ticks: string | undefined) => (Number(ticks) * 1e6) / clockTicksPerSecond()
  return { userMicros: micros(fields[11]), systemMicros: micros(fields[12]) }
}

/** User plus system CPU time of every thread of process `pid` so far, in microseconds. */
export function cpuTimeMicros(pid: number): number {
  const { userMicros, systemMicros } = statCpu(`/proc/${pid}/stat`)
  return userMicros + systemMicros
}

/** Each thread's CPU time so far, by thread id; the main thread's id is the process id. */
export function threadCpuMicros(pid: number): Map<number, CpuTime> {
  const threads = new Map<number, CpuTime>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) threads.set(Number(tid), statCpu(`/proc/${pid}/task/${tid}/stat`))
  return threads
}

export interface Memory {
  /** VmRSS: resident memory, anonymous plus file-backed (LMDB's map pages count here). */
  rssBytes: number
  /** RssAnon: the resident heap and other private memory. */
  anonBytes: number
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)
    if (!match) throw new Error(`no ${key} in /proc/${pid}/status`)
    return Number(match[1]) * 1024
  }
  return { rssBytes: kib('VmRSS'), anonBytes: kib('RssAnon') }
}

/** Settled means: the process used less than this much CPU over the last quiet period. */
const quietCpuMicros = 20_000
const quietPeriodMs = 1_000
const settleTimeoutMs = 30_000

/** Waits until the server has been quiet for a while, so that memory is measured at rest. */
export async function settle(server: { kind: string; pid: number }): Promise<void> {
  const deadline = Date.now() + settleTimeoutMs
  let before = cpuTimeMicros(server.pid)
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietPeriodMs))
    const now = cpuTimeMicros(server.pid)
    if (now - before < quietCpuMicros) return
    if (Date.now() > deadline) throw new Error(`${server.kind} did not settle within ${settleTimeoutMs} ms`)
    before = now
  }
}

