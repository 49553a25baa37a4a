import { Rng } from '../sim/rng.js'
import { collapseRuns } from './bytes.js'
import { checkStillServing } from './final-checks.js'
import { delay, edgeNames, type EdgeName, type FuzzInput, type InputGenerator, type Target } from './fuzz-input.js'
import { startFuzzTarget, type FuzzTarget } from './fuzz-target.js'
import { peerInput } from './peer.js'
import { rawHttpInput } from './raw-http.js'
import { RecentInputs } from './recent-inputs.js'
import { closeRestConnections, restInput } from './rest.js'
import { seedCorpus } from './seed-corpus.js'
import { wsSessionInput } from './ws-session.js'
import { wsWireInput } from './ws-wire.js'
import { YjsCorpus } from './yjs-corpus.js'

export interface FuzzOptions {
  /** Budget of the whole run, from `startedAtMs` to the last check (longer only if those take longer). */
  seconds: number
  /** When the budget began, e.g. when the process started (by default, when fuzzNode is called). */
  startedAtMs?: number
  seed: number
  /** Progress lines. */
  log?: (line: string) => void
  /** Only these edges (all by default). */
  edges?: readonly EdgeName[]
  /** After a failure, replay each of the last inputs alone against a fresh node, to name the ones that fail alone. */
  minimize?: boolean
}

export interface FuzzReport {
  seed: number
  ok: boolean
  elapsedMs: number
  inputsSent: Record<EdgeName, number>
  failures: string[]
  /** The inputs sent last before the first failure (or before the final checks), oldest first. */
  lastInputs: string[]
  /** With `minimize`: those of `lastInputs` that make a fresh node fail on their own, and how. */
  culprits: string[]
  /** The node's stderr and error log lines, last ones. */
  nodeOutput: string[]
  /** Each error message the node logged, with how often: not a failure, but worth a look. */
  errorsLogged: Record<string, number>
  replay: string
}

const generators: Record<EdgeName, { weight: number; generate: InputGenerator }> = {
  ws: { weight: 30, generate: wsSessionInput },
  'ws-wire': { weight: 20, generate: wsWireInput },
  'raw-http': { weight: 15, generate: rawHttpInput },
  peer: { weight: 15, generate: peerInput },
  rest: { weight: 20, generate: restInput },
}

/** Bounds on the load, whatever the time budget: two cores are shared with the node and everything else. */
const workers = 4
const maxInputsPerSecond = 400
const maxInputs = 20_000
/** An input that takes longer is abandoned (its sockets are the node's business); the next one goes. */
const inputTimeoutMs = 3_000
const recentInputsKept = 12
/** Two missed probes in a row mean the node stopped serving. */
const healthProbeIntervalMs = 1_000
const healthProbeTimeoutMs = 3_000
/** `seconds` is the whole run's budget: starting the node, the inputs under way and the checks come out of it. */
const checksReserveMs = 2_500
const minFuzzingMs = 1_000

/**
 * Throws random and mutated-valid input at a live node's every edge — document WebSockets (messages and raw
 * frames), its HTTP parser, the peer port and REST — for `seconds`, then checks that it still serves. The seed
 * corpus goes first; then each worker draws its inputs from its own PRNG seeded from `seed`, so a seed sends the
 * same inputs again; only their interleaving across workers depends on timing.
 */
export async function fuzzNode(options: FuzzOptions): Promise<FuzzReport> {
  const startedAt = options.startedAtMs ?? Date.now()
  const log = options.log ?? (() => {})
  const edges = options.edges ?? edgeNames
  const inputsSent = Object.fromEntries(edgeNames.map((edge) => [edge, 0])) as Record<EdgeName, number>
  const recent = new RecentInputs(recentInputsKept)
  const failures: string[] = []
  let lastInputs: FuzzInput[] | null = null
  const fail = (failure: string) => {
    failures.push(failure)
    lastInputs ??= recent.snapshot()
  }
  const node = await startFuzzTarget(fail)
  log(
    `fuzzing ${node.target.url} (started in ${Math.round(Date.now() - startedAt)} ms) for ${options.seconds} s in all ` +
      `with seed ${options.seed} (edges: ${edges.join(', ')})`,
  )
  const stopProbing = probeHealth(node, fail)
  try {
    const deadline = Math.max(startedAt + options.seconds * 1_000 - checksReserveMs, Date.now() + minFuzzingMs)
    const pace = pacer(maxInputsPerSecond)
    let total = 0
    const keepGoing = () => failures.length === 0 && Date.now() < deadline && total < maxInputs
    const record = (input: FuzzInput) => {
      total++
      inputsSent[input.edge]++
      recent.push(input)
    }
    const seeds = seedCorpus().filter((input) => edges.includes(input.edge))
    for (const input of seeds) record(input)
    await Promise.all(seeds.map((input) => sendWithin(input, node.target)))
    node.watch.scan()
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        const rng = new Rng(workerSeed(options.seed, worker))
        const corpus = new YjsCorpus(rng)
        while (keepGoing()) {
          await pace()
          const input = generators[pickEdge(rng, edges)].generate(rng, corpus)
          record(input)
          await sendWithin(input, node.target)
          node.watch.scan()
        }
      }),
    )
    stopProbing()
    // A crash can trail the input that caused it.
    await delay(300)
    node.watch.scan()
    if (failures.length === 0) for (const problem of await checkStillServing(node.target, options.seed)) fail(problem)
    node.watch.scan()
  } finally {
    stopProbing()
    await node.stop()
  }
  const shown = lastInputs ?? recent.snapshot()
  const culprits = failures.length > 0 && options.minimize ? await failingAlone(shown, log) : []
  closeRestConnections()
  return {
    seed: options.seed,
    ok: failures.length === 0,
    elapsedMs: Math.round(Date.now() - startedAt),
    inputsSent,
    failures,
    lastInputs: shown.map((input) => collapseRuns(input.describe)),
    culprits,
    nodeOutput: node.watch.output(),
    errorsLogged: Object.fromEntries(node.watch.errorCounts),
    replay: `npm run fuzz -- --seconds ${options.seconds} --seed ${options.seed}${options.edges ? ` --edges ${edges.join(',')}` : ''}`,
  }
}

function pickEdge(rng: Rng, edges: readonly EdgeName[]): EdgeName {
  const total = edges.reduce((sum, edge) => sum + generators[edge].weight, 0)
  let at = rng.next() * total
  for (const edge of edges) {
    at -= generators[edge].weight
    if (at < 0) return edge
  }
  return edges[edges.length - 1]!
}

/** Distinct, well-mixed seeds per worker from one run seed. */
const workerSeed = (seed: number, worker: number): number => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + worker * 0x27d4eb2f) >>> 0

async function sendWithin(input: FuzzInput, target: Target): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, inputTimeoutMs)))
  try {
    await Promise.race([input.send(target), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Spaces the starts of inputs, across all workers, at least `1 / perSecond` apart. */
function pacer(perSecond: number): () => Promise<void> {
  const spacingMs = 1_000 / perSecond
  let nextAt = Date.now()
  return async () => {
    const at = Math.max(Date.now(), nextAt)
    nextAt = at + spacingMs
    if (at > Date.now()) await delay(at - Date.now())
  }
}

/** Probes /healthz while the fuzzing goes on: a node that stops answering has failed even if it lives. */
function probeHealth(node: FuzzTarget, fail: (failure: string) => void): () => void {
  let missed = 0
  let probing = false
  let stopped = false
  const probe = async () => {
    try {
      const res = await fetch(`${node.target.url}/healthz`, { signal: AbortSignal.timeout(healthProbeTimeoutMs) })
      await res.arrayBuffer()
      return res.status === 200
    } catch {
      return false
    }
  }
  const timer = setInterval(() => {
    if (probing || !node.watch.alive) return
    probing = true
    void probe().then((ok) => {
      probing = false
      missed = ok ? 0 : missed + 1
      if (missed === 2 && !stopped) fail(`the node missed two /healthz probes in a row (${healthProbeTimeoutMs} ms each)`)
    })
  }, healthProbeIntervalMs)
  return () => {
    stopped = true
    clearInterval(timer)
  }
}

/** Each input alone against a fresh node: the ones that make it fail without help from the others. */
async function failingAlone(inputs: FuzzInput[], log: (line: string) => void): Promise<string[]> {
  const culprits: string[] = []
  for (const input of inputs) {
    const failures: string[] = []
    const node = await startFuzzTarget((failure) => failures.push(failure))
    try {
      await sendWithin(input, node.target)
      await delay(300)
      node.watch.scan()
      const error = node.watch.crashError()
      if (error) failures.push(error.trim())
    } finally {
      await node.stop()
    }
    log(`minimizing: ${failures.length > 0 ? 'FAILS' : 'passes'} alone: ${input.describe.slice(0, 200)}`)
    if (failures.length > 0) culprits.push(`${collapseRuns(input.describe)}\n    → ${failures.join('; ')}`)
  }
  return culprits
}
