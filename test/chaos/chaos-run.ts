import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAdminClient } from '../../client/admin-client.js'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { takeNodeProcessFailures } from '../helpers/node-process.js'
import { sleep } from '../helpers/wait.js'
import { Rng } from '../sim/rng.js'
import { AckLog, percentile } from './ack-log.js'
import { checkCluster, checkFeeds, checkWebhook, converged, type Verdict } from './checker.js'
import { WebhookReceiver } from '../helpers/webhook-receiver.js'
import { describeFault, nextFault, type Fault } from './faults.js'
import { observeFeed, observeNode, type FeedObservation, type NodeObservation } from './observe.js'
import { NodeWriters } from './writers.js'

export interface ChaosOptions {
  seed: number
  /** How long faults and writes go on; healing and the checks come after. */
  seconds: number
  /** 3 or 5 members at the start; a schedule adds and removes one at a time from there. */
  nodes: number
  /** Each fault and milestone as it happens. */
  log?: (line: string) => void
  convergeTimeoutMs?: number
  /** Where to write every node's log lines when the run fails. */
  logDir?: string
}

export interface ChaosReport extends Omit<Verdict, 'examples'> {
  seed: number
  nodes: number
  seconds: number
  faults: number
  faultsByKind: Record<string, number>
  writesAttempted: number
  writesAcknowledged: number
  deletionsAcknowledged: number
  /** Documents whose latest change some node's change feed does not tell of (see checkFeeds). */
  missedChanges: number
  /** Documents whose content or deletion the webhook was never sent (see checkWebhook), and deliveries it got twice. */
  missedWebhookEvents: number
  webhookDuplicates: number
  /** Node processes that exited or logged fatal other than by the schedule. */
  died: number
  /** From the last heal until every node answered the same; null if they did not within the timeout. */
  convergeMs: number | null
  ackLatencyMs: Record<'rest' | 'whenDurable', { p50: number | null; p99: number | null }>
  /** Lost, resurrected and divergent documents, and node failures, a few of each. */
  examples: string[]
  /** The run itself did not go as scheduled: a fault could not be injected or ended, a node did not answer. */
  problems: string[]
}

/** Nothing lost, resurrected or divergent, no node died, the replicas converged and the run went as planned. */
export function chaosPassed(report: ChaosReport): boolean {
  return (
    report.lost === 0 &&
    report.resurrected === 0 &&
    report.divergent === 0 &&
    report.missedChanges === 0 &&
    report.missedWebhookEvents === 0 &&
    report.died === 0 &&
    report.convergeMs !== null &&
    report.problems.length === 0
  )
}

const spares = 3
const liveDocs = 6
const writeEveryMs = 20

/**
 * One chaos run: real node processes behind cuttable proxies, writers on every node, documents deleted or
 * retired as they write, a webhook taking every change, and a seeded schedule of faults; then everything heals and the checker compares what was
 * acknowledged with what every node holds.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {})
  /** The log lines of members removed and stopped during the run, kept for a failing run's logs. */
  const departed = new Map<string, string[]>()
  const faultRng = new Rng(options.seed)
  const workRng = new Rng(options.seed ^ 0x5bd1e995)
  const acks = new AckLog()
  const problems: string[] = []
  const faultsByKind: Record<string, number> = {}
  const cluster = await startProxiedCluster({
    size: options.nodes,
    spares,
    antiEntropyMs: 200,
    // Retries at most 2 s apart: a delivery still missing when the checker's 30 s wait ends is one never sent.
    extraArgs: ['--webhook-retry-base-ms', '100', '--webhook-retry-max-ms', '2000', '--webhook-timeout-ms', '2000'],
  })
  // A webhook to a receiver that is down 2 s in every 7 and refuses one delivery in ten besides, registered before
  // any write: deliveries queue up on the node responsible, which faults then kill, cut off or remove.
  const receiver = await WebhookReceiver.start()
  const receiverRng = new Rng(options.seed ^ 0x27d4eb2d)
  receiver.answer = () => ((Date.now() - started) % 7_000 < 2_000 || receiverRng.int(10) === 0 ? 503 : 204)
  const started = Date.now()
  const at = () => `${((Date.now() - started) / 1000).toFixed(1)}s`
  try {
    const members = cluster.nodes.map((n) => n.id)
    const spareIds = Array.from({ length: spares }, (_, i) => `n${options.nodes + i + 1}`)
    const down = new Set<string>()
    const writers = new Map<string, NodeWriters>()
    const attach = (id: string) =>
      writers.set(id, new NodeWriters(id, cluster.node(id).url, cluster.nodes.map((n) => n.url), acks, new Rng(workRng.int(2 ** 31))))
    members.forEach(attach)
    const admin = (id: string) =>
      createAdminClient({ url: cluster.node(id).url, token: cluster.adminToken, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(6_000) }) })
    const up = () => members.filter((id) => !down.has(id))
    receiver.verifyWith((await admin(members[0]!).addWebhook({ url: receiver.url, events: ['updated', 'deleted'] })).secret)
    /** What ends each timed fault, run early if the run ends first. */
    const endings = new Map<NodeJS.Timeout, () => Promise<void>>()
    const later = (ms: number, end: () => Promise<void>) => {
      const timer = setTimeout(() => {
        endings.delete(timer)
        end().catch((err: Error) => problems.push(`${at()} ending a fault: ${err.message}`))
      }, ms)
      endings.set(timer, end)
    }
    let networkFault = false
    let membership: Promise<void> | null = null
    const changeMembership = (change: Promise<void>) => {
      const current: Promise<void> = change
        .catch((err: Error) => {
          problems.push(`${at()} membership change: ${err.message}`)
        })
        .finally(() => {
          if (membership === current) membership = null
        })
      membership = current
    }

    const names = new Set<string>()
    let docCount = 0
    const live: string[] = []
    const newDoc = () => {
      const name = `doc-${++docCount}`
      names.add(name)
      live.push(name)
    }
    for (let i = 0; i < liveDocs; i++) newDoc()

    const inject = async (fault: Fault) => {
      log(`${at()} ${describeFault(fault)}`)
      faultsByKind[fault.kind] = (faultsByKind[fault.kind] ?? 0) + 1
      switch (fault.kind) {
        case 'kill':
          down.add(fault.node)
          await cluster.stop(fault.node)
          later(fault.forMs, async () => {
            await cluster.restart(fault.node)
            down.delete(fault.node)
          })
          return
        case 'pause':
          down.add(fault.node)
          cluster.pause(fault.node)
          later(fault.forMs, async () => {
            cluster.resume(fault.node)
            down.delete(fault.node)
          })
          return
        case 'isolate':
        case 'split':
        case 'one-way': {
          networkFault = true
          const running = cluster.nodes.map((n) => n.id)
          if (fault.kind === 'isolate') cluster.partition([fault.node], running.filter((id) => id !== fault.node))
          else if (fault.kind === 'split') cluster.partition(...fault.sides)
          else cluster.cutOneWay(fault.from, fault.to)
          later(fault.forMs, async () => {
            cluster.heal()
            networkFault = false
          })
          return
        }
        case 'add-member':
          spareIds.shift()
          changeMembership(
            addMember(cluster, fault.node, up(), admin).then(() => {
              members.push(fault.node)
              attach(fault.node)
              log(`${at()} ${fault.node} is a member`)
            }),
          )
          return
        case 'remove-member':
          members.splice(members.indexOf(fault.node), 1)
          changeMembership(
            removeMember(cluster, fault.node, members, admin, problems, (line) => log(`${at()} ${line}`)).then(async () => {
              await writers.get(fault.node)!.close()
              writers.delete(fault.node)
              departed.set(fault.node, [...cluster.node(fault.node).process.logLines])
              await cluster.forget(fault.node)
              log(`${at()} ${fault.node} removed and stopped`)
            }),
          )
          return
        case 'transfer-leader':
          await admin(faultRng.pick(up()))
            .transferLeadership(fault.to)
            .catch(() => {})
          return
      }
    }

    const deadline = started + options.seconds * 1_000
    const writing = setInterval(() => {
      const writer = [...writers.values()][workRng.int(writers.size)]
      if (writer && live.length > 0) writer.write(workRng.pick(live))
    }, writeEveryMs)
    const deleting = (async () => {
      while (Date.now() < deadline) {
        await sleep(1_000 + workRng.int(3_000))
        const name = workRng.pick(live)
        if (workRng.int(2) === 0) {
          // Retired: written no more, so that its last change is made (and must reach the webhook) amid faults.
          live.splice(live.indexOf(name), 1)
          newDoc()
          log(`${at()} retired ${name}`)
          continue
        }
        const via = up()
        if (via.length === 0) continue
        const ok = await admin(workRng.pick(via))
          .deleteDoc(name, { idempotencyKey: randomUUID() })
          .then(() => true, () => false)
        if (!ok) continue
        acks.deletions.add(name)
        live.splice(live.indexOf(name), 1)
        for (const w of writers.values()) w.drop(name)
        newDoc()
        log(`${at()} deleted ${name}`)
      }
    })()
    let faults = 0
    while (Date.now() < deadline) {
      await sleep(300 + faultRng.int(1_200))
      const fault = nextFault(
        faultRng,
        { members, spares: spareIds, down, networkFaultActive: networkFault, membershipChangeActive: membership !== null },
        { minMembers: options.nodes, maxMembers: options.nodes + 1, maxDown: options.nodes === 3 ? 1 : 2 },
      )
      if (!fault) continue
      faults++
      await inject(fault).catch((err: Error) => problems.push(`${at()} ${describeFault(fault)}: ${err.message}`))
    }

    clearInterval(writing)
    await deleting
    log(`${at()} healing`)
    for (const [timer, end] of endings) {
      clearTimeout(timer)
      await end()
    }
    endings.clear()
    await membership
    await Promise.all([...writers.values()].map((w) => w.close()))
    const healed = Date.now()
    const observe = () => Promise.all(cluster.nodes.map((n) => observeNode(n.id, n.url, names, cluster.adminToken)))
    let final: (NodeObservation | null)[] = []
    let convergeMs: number | null = null
    const convergeDeadline = healed + (options.convergeTimeoutMs ?? 60_000)
    while (Date.now() < convergeDeadline) {
      final = await observe()
      const answered = final.filter((o): o is NodeObservation => o !== null)
      if (answered.length === final.length && converged(answered)) {
        convergeMs = Date.now() - healed
        break
      }
      await sleep(500)
    }
    log(`${at()} ${convergeMs === null ? 'did not converge' : `converged in ${convergeMs} ms`}`)
    const answered = final.filter((o): o is NodeObservation => o !== null)
    if (answered.length < final.length) problems.push(`${final.length - answered.length} nodes did not answer at the end`)
    const verdict = checkCluster(acks, answered)
    const feeds = new Map<string, FeedObservation>()
    for (const node of cluster.nodes) {
      const feed = await observeFeed(node.url, cluster.adminToken)
      if (feed) feeds.set(node.id, feed)
      else problems.push(`the change feed of ${node.id} could not be read at the end`)
    }
    const feedVerdict = checkFeeds(answered, feeds)
    // Deliveries are retried with backoff: give the last ones time to arrive.
    const written = new Set([...acks.writes].filter(([, keys]) => keys.size > 0).map(([name]) => name))
    const webhookVerdict = async () => (answered[0] ? checkWebhook(answered[0], written, receiver.accepted.map((d) => ({ type: d.payload.type as 'document.updated', name: d.payload.data.name, stateVector: d.payload.data.stateVector }))) : null)
    let hookVerdict = await webhookVerdict()
    for (const deadline = Date.now() + 30_000; hookVerdict && hookVerdict.missed > 0 && Date.now() < deadline; hookVerdict = await webhookVerdict()) await sleep(500)
    if (receiver.forged.length > 0) problems.push(`${receiver.forged.length} webhook deliveries did not verify`)
    const failures = takeNodeProcessFailures()
    const latency = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99) })
    const report: ChaosReport = {
      seed: options.seed,
      nodes: options.nodes,
      seconds: options.seconds,
      faults,
      faultsByKind,
      writesAttempted: acks.attempted,
      writesAcknowledged: acks.acknowledged,
      deletionsAcknowledged: acks.deletions.size,
      lost: verdict.lost,
      resurrected: verdict.resurrected,
      divergent: verdict.divergent,
      missedChanges: feedVerdict.missed,
      missedWebhookEvents: hookVerdict?.missed ?? 0,
      webhookDuplicates: hookVerdict?.duplicates ?? 0,
      died: failures.length,
      convergeMs,
      ackLatencyMs: { rest: latency(acks.latencies.rest), whenDurable: latency(acks.latencies.whenDurable) },
      examples: [...verdict.examples, ...feedVerdict.examples, ...(hookVerdict?.examples ?? []), ...failures],
      problems,
    }
    if (options.logDir !== undefined && !chaosPassed(report)) writeNodeLogs(cluster, departed, options.logDir, options.seed)
    return report
  } finally {
    await cluster.close()
    await receiver.close()
  }
}

function writeNodeLogs(cluster: ProxiedCluster, departed: ReadonlyMap<string, readonly string[]>, dir: string, seed: number): void {
  mkdirSync(dir, { recursive: true })
  const logs = new Map([...departed, ...cluster.nodes.map((node) => [node.id, node.process.logLines] as const)])
  for (const [id, lines] of logs) writeFileSync(join(dir, `seed-${seed}-${id}.log`), lines.join('\n'))
}

type AdminOf = (id: string) => ReturnType<typeof createAdminClient>

/** Starts spare `id`, joining through one of `via`; resolves once a member lists it. */
async function addMember(cluster: ProxiedCluster, id: string, via: string[], admin: AdminOf): Promise<void> {
  const through = via[0]!
  // Every member up now, tried in turn: the one it first asks may be removed or killed for good meanwhile.
  await cluster.addNode(id, via.map((member) => cluster.node(member).url).join(','))
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const view = await admin(through).cluster().catch(() => null)
    if (view?.members.some((m) => m.id === id)) return
    await sleep(250)
  }
  throw new Error(`${id} did not join within 60 s`)
}

/**
 * Removes `id` through the remaining members, retrying with the same idempotency key until it is done,
 * then waits for the removed node to say its hand-off is over (`/readyz` 503 with `handOff` done or failed):
 * only then may it be stopped for good. A failed one (no reconciliation found a member identical to it, which
 * writes elsewhere can prevent though everything was sent) is logged; the checker counts what was lost.
 */
async function removeMember(
  cluster: ProxiedCluster,
  id: string,
  remaining: string[],
  admin: AdminOf,
  problems: string[],
  log: (line: string) => void,
): Promise<void> {
  const key = randomUUID()
  const deadline = Date.now() + 60_000
  for (let attempt = 0; ; attempt++) {
    if (Date.now() > deadline) throw new Error(`removing ${id} did not succeed within 60 s`)
    const via = remaining[attempt % remaining.length]!
    const done = await admin(via)
      .removeMember(id, { idempotencyKey: key })
      .then(() => true, () => false)
    if (done) break
    await sleep(500)
  }
  const url = cluster.node(id).url
  while (Date.now() < deadline) {
    const handOff = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })
      .then(async (r) => (r.status === 503 ? ((await r.json()) as { error: { handOff?: string } }).error.handOff : undefined))
      .catch(() => undefined)
    if (handOff === 'done') return
    if (handOff === 'failed') return log(`${id} found no remaining member holding all it holds within its hand-off time`)
    await sleep(250)
  }
  problems.push(`${id} had not handed off what it held 60 s after its removal`)
}
