import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    ticksPerSecond = Number.isInteger(answer) && answer > 0 ? answer : 100
  }
  return ticksPerSecond
}

/** User plus system CPU time of every thread of process `pid` so far, in microseconds. */
export function cpuTimeMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Field 2 (the command) is parenthesised and may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1e6) / clockTicksPerSecond()
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

