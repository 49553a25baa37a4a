import type { FanoutResult } from '../scenarios/fanout.js'
import { compare, formatInt, formatMicros, formatMs, ratioOf, repetitionNote, table, type Row, type TargetCheck } from './tables.js'

export type FanoutTargetId = 'fanout-cpu' | 'fanout-p99' | 'burst-cpu'

/** Issue 13's targets: one writer at or below the bare relay's CPU and the reference's p99; bursts at half the reference's CPU. */
export function fanoutTargetChecks(fanout: FanoutResult | undefined, burst: FanoutResult | undefined): TargetCheck[] {
  const checks: TargetCheck[] = []
  const add = (id: FanoutTargetId, benchmark: string, what: string, ratio: number | undefined, target: string, limit: number) => {
    if (ratio !== undefined) checks.push({ id, benchmark, what, ratio, target, met: ratio <= limit })
  }
  if (fanout) {
    const cpu = (s: FanoutResult['servers'][number]) => s.serverCpuMicrosPerDelivery
    add('fanout-cpu', 'fan-out, 1 writer', 'server CPU per delivered message vs the bare ws relay', ratioOf(fanout.servers, cpu, 'relay'), '≤ 1×', 1)
    add('fanout-p99', 'fan-out, 1 writer', 'delivery latency p99 vs the reference', ratioOf(fanout.servers, (s) => s.p99Ms), '≤ 1×', 1)
  }
  if (burst) {
    const cpu = (s: FanoutResult['servers'][number]) => s.serverCpuMicrosPerDelivery
    add('burst-cpu', `fan-out, ${burst.writers} writers at once`, 'server CPU per delivered update vs the reference', ratioOf(burst.servers, cpu), '≤ 0.5×', 0.5)
  }
  return checks
}

export function fanoutSection(r: FanoutResult, check: (id: FanoutTargetId) => TargetCheck | undefined): string[] {
  const burst = r.writers > 1
  const rows: Row[] = [
    compare(r.servers, 'delivery latency min', (s) => s.minMs, formatMs),
    compare(r.servers, 'delivery latency p50', (s) => s.p50Ms, formatMs),
    compare(r.servers, 'delivery latency p99', (s) => s.p99Ms, formatMs, burst ? undefined : check('fanout-p99')),
    compare(r.servers, 'delivery latency max', (s) => s.maxMs, formatMs),
    compare(r.servers, 'server CPU, first send until the last delivery', (s) => s.serverCpuMs, (v) => `${formatInt(v)} ms`),
    compare(r.servers, 'server CPU per delivered update', (s) => s.serverCpuMicrosPerDelivery, formatMicros, check(burst ? 'burst-cpu' : 'fanout-cpu')),
  ]
  const writers = burst
    ? `${r.writers} writers (the server's own provider each: \`WebsocketProvider\`, or \`HocuspocusProvider\` for Hocuspocus) and`
    : `one writer (the server's own provider: \`WebsocketProvider\`, or \`HocuspocusProvider\` for Hocuspocus) and`
  const rounds = burst
    ? `${formatInt(r.updates)} rounds ${r.spacingMs} ms apart; in each, every writer makes a one-character insert, all in the same turn of the event loop, so the server gets ${r.writers} updates at once. Each insert`
    : `${formatInt(r.updates)} one-character inserts ${r.spacingMs} ms apart; each`
  return [
    burst ? `## Fan-out: ${r.writers} writers at once` : '## Fan-out',
    '',
    `Method: ${writers}`,
    `${formatInt(r.readers)} readers on one document. The readers are raw \`ws\` clients that speak just enough of the`,
    'protocol to sync (sync step 1 with an empty state vector; for Hocuspocus every frame is prefixed with the document',
    `name and an authentication message goes first) and then record when each update message arrives. ${burst ? 'The writers make' : 'The writer makes'}`,
    `${rounds} advances its writer's Yjs clock by one, so a reader decodes only the clock ranges of a message`,
    '(`Y.parseUpdateMeta`) to match it to the send time, and a message that merges several updates counts for each.',
    `Latency is send → receive at each reader (${formatInt(r.readers * r.writers * r.updates)} samples per server). All readers run in one`,
    `Node process on the same 2 CPUs as the server, so the tail includes the time that process takes to go through`,
    `${formatInt(r.readers)} sockets; server CPU is the comparison that does not depend on it. The bare ws relay forwards each frame`,
    'it gets to every other socket of the document with `ws.send` and does nothing else (it answers sync step 1 with an',
    'empty sync step 2): the floor for a server that keeps no document.',
    repetitionNote(r.servers),
    '',
    ...table(
      r.servers.map((s) => s.kind),
      rows,
    ),
    '',
  ]
}
