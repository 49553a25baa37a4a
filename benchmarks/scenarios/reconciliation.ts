/**
 * Anti-entropy level 1, in process: range-based set reconciliation between two synthetic item sets, against
 * naive per-document sync and the information-theoretic minimum; and, from the deterministic gossip
 * simulation, rounds to converge against cluster size.
 */
import { fingerprintBytes } from '../../src/protocol/range-codec.js'
import { ItemSet } from '../../src/replication/item-set.js'
import { defaultRangeReconcilerOptions, type RangeReconcilerOptions } from '../../src/replication/range-reconciler.js'
import { reconcileOnce, roundsToConverge } from '../../test/sim/gossip-sim.js'
import { Rng } from '../../test/sim/rng.js'
import { describeEnvironment } from '../harness/environment.js'
import { median } from '../harness/stats.js'

export interface SessionFigures {
  /** Items on the initiator's side. */
  items: number
  /** Names whose items differ: a third each changed, only on the initiator, only on the responder. */
  differing: number
  options: RangeReconcilerOptions
  bytesFromInitiator: number
  bytesFromResponder: number
  messages: number
  roundTrips: number
  /** Wall time of the whole session, both sides in one process. */
  sessionMs: number
  /** Each side sends every name with a 10-byte state vector, then the names that differ again with theirs. */
  naiveBytes: number
  /** log2 C(N, k) / 8: the bytes it takes just to say which k of N documents differ. */
  minimumBytes: number
}

export interface GossipFigures {
  nodes: number
  /** Rounds to converge after the faults end, one per seed. */
  rounds: number[]
}

export interface ReconciliationResults {
  quick: boolean
  date: string
  commit: string
  /** With the default options. */
  sessions: SessionFigures[]
  /** Other options, for the choice of the defaults. */
  sweep: SessionFigures[]
  gossip: GossipFigures[]
}

const itemCounts = [10_000, 100_000]
const differingCounts = [0, 1, 10, 100]
const sweepOptions: RangeReconcilerOptions[] = [
  { branching: 8, listThreshold: 32 },
  { branching: 12, listThreshold: 32 },
  { branching: 16, listThreshold: 16 },
  { branching: 16, listThreshold: 32 },
  { branching: 20, listThreshold: 24 },
  { branching: 24, listThreshold: 16 },
  { branching: 32, listThreshold: 16 },
]
const sweepItems = 100_000
const sweepDifferingCounts = [1, 100]
const gossipNodeCounts = [3, 5, 10, 20, 50, 100, 200]
/** The state vector of a document with a few writers. */
const stateVectorBytes = 10
const targets = {
  identicalBytes: 100,
  identicalRoundTrips: 1,
  bytesPerDiffering: 2048,
  roundTrips: 3,
  /** Level 2 takes 3 more messages; 5 + 3 messages are 4 round trips. */
  messages: 5,
  growth100kOver10k: 2,
}

export function runReconciliationBenchmark({ quick }: { quick: boolean }): ReconciliationResults {
  const environment = describeEnvironment()
  const sessions: SessionFigures[] = []
  const sweep: SessionFigures[] = []
  for (const items of itemCounts) {
    const base = syntheticItems(items, new Rng(items))
    for (const differing of differingCounts) {
      const pair = divergedPair(base, differing, new Rng(items + differing))
      sessions.push(measureSession(pair, defaultRangeReconcilerOptions))
      if (items === sweepItems && sweepDifferingCounts.includes(differing)) {
        for (const options of sweepOptions) sweep.push(measureSession(pair, options))
      }
    }
  }
  const seeds = quick ? 3 : 9
  const gossip = gossipNodeCounts.map((nodes) => ({
    nodes,
    rounds: Array.from({ length: seeds }, (_, i) => roundsToConverge(nodes, i + 1)),
  }))
  return { quick, date: environment.date, commit: environment.commit, sessions, sweep, gossip }
}

interface DivergedPair {
  initiator: ItemSet
  responder: ItemSet
  differing: Set<string>
}

function measureSession(pair: DivergedPair, options: RangeReconcilerOptions): SessionFigures {
  const startedAt = performance.now()
  const outcome = reconcileOnce(pair.initiator, pair.responder, options)
  const sessionMs = performance.now() - startedAt
  const found = [...outcome.differing].sort()
  const expected = [...pair.differing].sort()
  if (found.join('\n') !== expected.join('\n')) {
    throw new Error(`reconciliation found ${found.length} differing names; expected ${expected.length}`)
  }
  return {
    items: pair.initiator.size,
    differing: pair.differing.size,
    options,
    bytesFromInitiator: outcome.bytesFromInitiator,
    bytesFromResponder: outcome.bytesFromResponder,
    messages: outcome.messages,
    roundTrips: Math.ceil(outcome.messages / 2),
    sessionMs,
    naiveBytes: naiveSyncBytes(pair),
    minimumBytes: log2Binomial(pair.initiator.size, pair.differing.size) / 8,
  }
}

/** Names like `team-12/notes-4711` with random 16-byte digests, sorted by name. */
function syntheticItems(count: number, rng: Rng): Map<string, Uint8Array> {
  const kinds = ['notes', 'spec', 'board', 'plan', 'todo']
  const names = new Set<string>()
  while (names.size < count) names.add(`team-${rng.int(1000)}/${rng.pick(kinds)}-${rng.int(100_000)}`)
  return new Map([...names].sort().map((name) => [name, randomDigest(rng)]))
}

/** Two sets that differ in `differing` names: a third each changed, only on the initiator, only on the responder. */
function divergedPair(base: Map<string, Uint8Array>, differing: number, rng: Rng): DivergedPair {
  const responderItems = new Map(base)
  const names = rng.shuffle([...base.keys()])
  const diff = new Set<string>()
  for (let i = 0; i < differing; i++) {
    const name = names[i]!
    if (i % 3 === 0) responderItems.set(name, randomDigest(rng))
    if (i % 3 === 1) responderItems.delete(name)
    if (i % 3 === 2) {
      const added = `${name}-copy`
      responderItems.set(added, randomDigest(rng))
      diff.add(added)
    } else {
      diff.add(name)
    }
  }
  return { initiator: itemSetOf(base), responder: itemSetOf(responderItems), differing: diff }
}

/** Sorted first: ItemSet inserts into a sorted array, so a load in order only appends. */
function itemSetOf(items: Map<string, Uint8Array>): ItemSet {
  const set = new ItemSet()
  for (const name of [...items.keys()].sort()) set.set(name, items.get(name)!)
  return set
}

function randomDigest(rng: Rng): Uint8Array {
  return Uint8Array.from({ length: 16 }, () => rng.int(256))
}

function naiveSyncBytes({ initiator, responder, differing }: DivergedPair): number {
  const entry = (name: string) => {
    const nameBytes = Buffer.byteLength(name, 'utf8')
    return varUintBytes(nameBytes) + nameBytes + varUintBytes(stateVectorBytes) + stateVectorBytes
  }
  const sum = (names: Iterable<string>) => [...names].reduce((total, name) => total + entry(name), 0)
  return sum(initiator.names()) + sum(responder.names()) + sum(differing)
}

function varUintBytes(value: number): number {
  return value < 128 ? 1 : 1 + varUintBytes(Math.floor(value / 128))
}

function log2Binomial(n: number, k: number): number {
  let bits = 0
  for (let i = 0; i < k; i++) bits += Math.log2((n - i) / (i + 1))
  return bits
}

export function formatReconciliationSection(results: ReconciliationResults): string {
  const { sessions, sweep, gossip } = results
  const defaults = defaultRangeReconcilerOptions
  return [
    '## Anti-entropy: range-based set reconciliation',
    '',
    `Measured ${results.date} at ${results.commit}, in one process (no network): \`RangeReconciler\` sessions between two`,
    '`ItemSet`s, bytes counted as the encoded messages of level 1 (which documents differ; level 2 — state vectors and',
    `deltas of those documents — comes on top). Items are synthetic: names like \`team-12/notes-4711\` with random`,
    '16-byte digests; of the k differing names a third have a changed digest, a third are only on the initiator and a',
    'third only on the responder. Every session is checked to find exactly the k names. Round trips are messages / 2,',
    'rounded up: the side that receives the last message knows its part of the differences without answering.' +
      (results.quick ? ' **Quick run: fewer seeds for the gossip simulation.**' : ''),
    '',
    `Compared with **naive per-document sync** (each side sends every document name with a ${stateVectorBytes}-byte state vector,`,
    'then the differing ones again) and with the **minimum** log2 C(N, k) / 8 bytes that it takes just to name which k of',
    'N documents differ.',
    '',
    `### Sessions with the defaults (branching ${defaults.branching}, list threshold ${defaults.listThreshold}, ${fingerprintBytes}-byte fingerprints)`,
    '',
    '| N | k | initiator → responder | responder → initiator | total | per differing doc | round trips (messages) | naive sync | naive / ours | minimum | ours / minimum | time, both sides |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...sessions.map((s) =>
      tableRow([
        formatInt(s.items),
        formatInt(s.differing),
        formatBytes(s.bytesFromInitiator),
        formatBytes(s.bytesFromResponder),
        formatBytes(totalBytes(s)),
        s.differing === 0 ? '–' : formatBytes(totalBytes(s) / s.differing),
        `${s.roundTrips} (${s.messages})`,
        formatBytes(s.naiveBytes),
        `${formatInt(s.naiveBytes / totalBytes(s))}×`,
        formatBytes(s.minimumBytes),
        s.differing === 0 ? '–' : `${(totalBytes(s) / s.minimumBytes).toFixed(0)}×`,
        `${s.sessionMs.toFixed(1)} ms`,
      ]),
    ),
    '',
    '### Targets (DESIGN.md, "Replication between nodes")',
    '',
    '| target | measured | met? |',
    '| --- | --- | --- |',
    ...targetRows(sessions).map((r) => tableRow([r.target, r.measured, r.met ? 'met' : '**not met**'])),
    '',
    `### Choosing the branching factor and the list threshold (N = ${formatInt(sweepItems)})`,
    '',
    'A differing range is split into `branching` sub-ranges with a fingerprint each (about 15 bytes apiece) until a side',
    'holds at most `listThreshold` items of it, and then sends those items (about 25 bytes apiece). Fewer, larger',
    'levels cost round trips; more levels and more lists cost bytes. Level 1 must end within 5 messages for N up to',
    '100,000, so that level 2 (state vectors, then deltas, then the deltas back: 3 messages) still fits in 4 round trips.',
    '',
    '| branching | list threshold | k | total | per differing doc | round trips (messages) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...sweep.map((s) =>
      tableRow([
        String(s.options.branching),
        String(s.options.listThreshold),
        formatInt(s.differing),
        formatBytes(totalBytes(s)),
        formatBytes(totalBytes(s) / s.differing),
        `${s.roundTrips} (${s.messages})`,
      ]),
    ),
    '',
    '### Gossip: rounds to converge against cluster size',
    '',
    'From the deterministic simulation (test/sim/gossip-sim.ts, default options): 40 document names, 12 faulty rounds with',
    '8 writes each at random nodes (30% of them deletions inside a document), 10% of messages lost and partitions that come',
    'and go; in every round each node reconciles with one random peer it can reach, and a session that loses a message',
    'is abandoned. Then writes stop and the network heals; the figure is the number of rounds until every node holds the',
    `same items (identical whole-set fingerprints). ${gossip[0]?.rounds.length ?? 0} seeds per cluster size.`,
    '',
    '![rounds to converge against cluster size](gossip-rounds.svg)',
    '',
    '| nodes | median rounds | min | max |',
    '| ---: | ---: | ---: | ---: |',
    ...gossip.map((g) => tableRow([String(g.nodes), String(median(g.rounds)), String(Math.min(...g.rounds)), String(Math.max(...g.rounds))])),
    '',
  ].join('\n')
}

interface TargetRow {
  target: string
  measured: string
  met: boolean
}

function targetRows(sessions: readonly SessionFigures[]): TargetRow[] {
  const identical = sessions.filter((s) => s.differing === 0)
  const differing = sessions.filter((s) => s.differing > 0)
  const worstIdenticalBytes = Math.max(...identical.map(totalBytes))
  const worstIdenticalTrips = Math.max(...identical.map((s) => s.roundTrips))
  const worstPerDiffering = Math.max(...differing.map((s) => totalBytes(s) / s.differing))
  const worstTrips = Math.max(...differing.map((s) => s.roundTrips))
  const worstMessages = Math.max(...differing.map((s) => s.messages))
  const growth = differing
    .filter((s) => s.items === 100_000)
    .map((large) => {
      const small = differing.find((s) => s.items === 10_000 && s.differing === large.differing)
      return small ? totalBytes(large) / totalBytes(small) : Number.NaN
    })
  const worstGrowth = Math.max(...growth)
  return [
    {
      target: `identical sets: ≤ ${targets.identicalBytes} bytes`,
      measured: `${formatBytes(worstIdenticalBytes)} at most`,
      met: worstIdenticalBytes <= targets.identicalBytes,
    },
    {
      target: `identical sets: ${targets.identicalRoundTrips} round trip`,
      measured: `${worstIdenticalTrips} at most`,
      met: worstIdenticalTrips <= targets.identicalRoundTrips,
    },
    {
      target: `k differing documents: ≤ ${formatBytes(targets.bytesPerDiffering)} per differing document`,
      measured: `${formatBytes(worstPerDiffering)} at most`,
      met: worstPerDiffering <= targets.bytesPerDiffering,
    },
    {
      target: `k differing documents: ≤ ${targets.roundTrips} round trips (N ≤ 100,000)`,
      measured: `${worstTrips} at most`,
      met: worstTrips <= targets.roundTrips,
    },
    {
      target: `k differing documents: level 1 within ${targets.messages} messages, so that level 2 fits in 4 round trips overall`,
      measured: `${worstMessages} at most`,
      met: worstMessages <= targets.messages,
    },
    {
      target: `never O(N) bytes: 10× the items cost ≤ ${targets.growth100kOver10k}× the bytes, same k (O(N) would be 10×)`,
      measured: `${worstGrowth.toFixed(2)}× at most`,
      met: worstGrowth <= targets.growth100kOver10k,
    },
  ]
}

/** One line per figure for the console. */
export function reconciliationSummary(results: ReconciliationResults): string[] {
  return [
    ...results.sessions.map(
      (s) =>
        `reconcile N=${formatInt(s.items).padEnd(7)} k=${String(s.differing).padEnd(3)} ${formatBytes(totalBytes(s)).padStart(9)} in ` +
        `${s.roundTrips} round trip${s.roundTrips === 1 ? '' : 's'} (naive ${formatBytes(s.naiveBytes)})`,
    ),
    ...targetRows(results.sessions).map((r) => `target    ${r.target}: ${r.measured} ${r.met ? 'met' : 'NOT MET'}`),
    `gossip    median rounds to converge: ${results.gossip.map((g) => `${g.nodes} nodes ${median(g.rounds)}`).join(', ')}`,
  ]
}

const totalBytes = (s: SessionFigures) => s.bytesFromInitiator + s.bytesFromResponder
const tableRow = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
const formatInt = (v: number) => Math.round(v).toLocaleString('en-US')

function formatBytes(v: number): string {
  if (v >= 1024 ** 2) return `${(v / 1024 ** 2).toFixed(1)} MiB`
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} B`
}
