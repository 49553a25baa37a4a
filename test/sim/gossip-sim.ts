import { createHash } from 'node:crypto'
import { ItemSet } from '../../src/replication/item-set.js'
import { RangeReconciler, type RangeReconcilerOptions } from '../../src/replication/range-reconciler.js'
import { Rng } from './rng.js'

/**
 * A deterministic simulation of anti-entropy gossip (for tests and benchmarks only): simulated nodes with
 * simulated documents, a seeded lossy network with partitions, and the real RangeReconciler in between.
 * Level 2 is simulated by merging the two nodes' states of every document the session found to differ.
 */
export interface GossipSimOptions {
  nodes: number
  seed: number
  /** Document names that writes choose from. */
  docNames: number
  /** Rounds with writes, lost messages and partitions; then writes stop and the network heals. */
  faultyRounds: number
  /** Writes per faulty round, each at a random node. */
  writesPerRound: number
  /** Share of writes that delete an operation of the document instead of adding one. */
  deleteShare: number
  /** Chance that any one message is lost during the faulty phase. */
  dropRate: number
  /** Chance per faulty round that a partition starts when there is none. */
  partitionRate: number
  /** Chance per faulty round that a partition heals. */
  healRate: number
  /** Rounds after the faulty phase within which every node must hold the same items. */
  maxConvergenceRounds: number
  reconciler: Partial<RangeReconcilerOptions>
}

export const defaultGossipSimOptions: Omit<GossipSimOptions, 'nodes' | 'seed'> = {
  docNames: 40,
  faultyRounds: 12,
  writesPerRound: 8,
  deleteShare: 0.3,
  dropRate: 0.1,
  partitionRate: 0.25,
  healRate: 0.3,
  maxConvergenceRounds: 100,
  reconciler: {},
}

/** How far the replicas are from each other and from everything written. */
export interface Divergence {
  /** Different whole-set fingerprints among the nodes: 1 when all hold the same. */
  distinctStates: number
  /** Operations and deletions written that a node lacks, summed over the nodes. */
  missing: number
  /** A node's copy of a document with every operation written but not every deletion. */
  deletionsOnly: number
}

export interface GossipSimResult {
  /** When the faults end: the divergence that the convergence rounds must repair. */
  divergenceAtHeal: Divergence
  /** Once converged. */
  divergenceAtEnd: Divergence
  /** Rounds after the faulty phase until every node's whole-set fingerprint was the same. */
  roundsToConverge: number
  partitions: number
  sessions: number
  /** Sessions cut short by a lost message. */
  abortedSessions: number
  /** The most messages a completed session took: deeper range splits take more. */
  longestSession: number
  /** Level-1 bytes sent over the whole run. */
  bytes: number
  writes: number
}

/** Runs one seed; throws, naming the seed, if the nodes do not converge or a write is lost. */
export function runGossipSimulation(options: Partial<GossipSimOptions> & Pick<GossipSimOptions, 'nodes' | 'seed'>): GossipSimResult {
  const full = { ...defaultGossipSimOptions, ...options }
  try {
    return new GossipSimulation(full).run()
  } catch (err) {
    const replay = `import { runGossipSimulation } from "./dist/test/sim/gossip-sim.js"; runGossipSimulation(${JSON.stringify(options)})`
    throw new Error(`gossip simulation failed: ${(err as Error).message}\nreplay: npm run build && node --input-type=module -e '${replay}'`, {
      cause: err,
    })
  }
}

export function roundsToConverge(nodes: number, seed: number, options: Partial<GossipSimOptions> = {}): number {
  return runGossipSimulation({ ...options, nodes, seed }).roundsToConverge
}

export interface SessionOutcome {
  /** False when a message was lost: the session stopped there. */
  completed: boolean
  differing: Set<string>
  messages: number
  bytesFromInitiator: number
  bytesFromResponder: number
}

/** No session of a correct reconciler comes near this; one that does is looping. */
const maxSessionMessages = 200

/** Runs one reconciliation session message by message; `delivered` decides whether each message arrives. */
export function reconcileOnce(
  initiator: ItemSet,
  responder: ItemSet,
  options: Partial<RangeReconcilerOptions> = {},
  delivered: () => boolean = () => true,
): SessionOutcome {
  const sides = [new RangeReconciler(initiator, options), new RangeReconciler(responder, options)] as const
  const outcome: SessionOutcome = { completed: false, differing: new Set(), messages: 0, bytesFromInitiator: 0, bytesFromResponder: 0 }
  let message: Uint8Array | null = sides[0].initiate()
  for (let to = 1; message !== null; to = 1 - to) {
    outcome.messages++
    if (outcome.messages > maxSessionMessages) throw new Error(`a session went past ${maxSessionMessages} messages`)
    if (to === 1) outcome.bytesFromInitiator += message.byteLength
    else outcome.bytesFromResponder += message.byteLength
    if (!delivered()) return outcome
    const step = sides[to]!.receive(message)
    for (const name of step.differing) outcome.differing.add(name)
    message = step.reply
  }
  outcome.completed = true
  return outcome
}

/**
 * A simulated CRDT document: grow-only sets of operation ids and of deletions of them. Merging is the union
 * of both. A deletion changes the state without adding an operation, like a Yjs delete set that moves while
 * the state vector stays.
 */
interface SimDoc {
  ops: Set<string>
  deleted: Set<string>
}

class SimNode {
  readonly docs = new Map<string, SimDoc>()
  readonly items = new ItemSet()

  constructor(readonly id: number) {}

  doc(name: string): SimDoc {
    let doc = this.docs.get(name)
    if (!doc) {
      doc = { ops: new Set(), deleted: new Set() }
      this.docs.set(name, doc)
    }
    return doc
  }

  /** Takes whatever `other` holds of the document that this node lacks. */
  mergeFrom(other: SimNode, name: string): void {
    const theirs = other.docs.get(name)
    if (!theirs) return
    const ours = this.doc(name)
    for (const op of theirs.ops) ours.ops.add(op)
    for (const op of theirs.deleted) ours.deleted.add(op)
    this.refresh(name)
  }

  refresh(name: string): void {
    const doc = this.docs.get(name)!
    const state = `${[...doc.ops].sort().join(',')}|${[...doc.deleted].sort().join(',')}`
    this.items.set(name, createHash('sha256').update(state).digest().subarray(0, 16))
  }
}

class GossipSimulation {
  private readonly rng: Rng
  private readonly nodes: SimNode[]
  /** Everything ever written: every node must hold exactly this at the end. */
  private readonly written = new Map<string, SimDoc>()
  /** Side of each node while a partition lasts; nodes on different sides cannot reach each other. */
  private partition: number[] | null = null
  private faulty = true
  private readonly result: Omit<GossipSimResult, 'divergenceAtHeal' | 'divergenceAtEnd'> = {
    roundsToConverge: 0,
    partitions: 0,
    sessions: 0,
    abortedSessions: 0,
    longestSession: 0,
    bytes: 0,
    writes: 0,
  }

  constructor(private readonly options: GossipSimOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 2) throw new Error(`nodes must be an integer ≥ 2, not ${options.nodes}`)
    this.rng = new Rng(options.seed)
    this.nodes = Array.from({ length: options.nodes }, (_, id) => new SimNode(id))
  }

  run(): GossipSimResult {
    for (let round = 0; round < this.options.faultyRounds; round++) {
      this.changePartition()
      for (let i = 0; i < this.options.writesPerRound; i++) this.write()
      this.gossipRound()
    }
    this.faulty = false
    this.partition = null
    const divergenceAtHeal = this.divergence()
    while (!this.converged()) {
      if (this.result.roundsToConverge === this.options.maxConvergenceRounds) {
        throw new Error(`no convergence within ${this.options.maxConvergenceRounds} rounds after the faults ended`)
      }
      this.result.roundsToConverge++
      this.gossipRound()
    }
    this.checkNothingLost()
    return { ...this.result, divergenceAtHeal, divergenceAtEnd: this.divergence() }
  }

  private changePartition(): void {
    if (this.partition === null && this.rng.chance(this.options.partitionRate)) {
      const order = this.rng.shuffle(this.nodes.map((n) => n.id))
      const cut = 1 + this.rng.int(this.nodes.length - 1)
      this.partition = []
      order.forEach((id, i) => (this.partition![id] = i < cut ? 0 : 1))
      this.result.partitions++
    } else if (this.partition !== null && this.rng.chance(this.options.healRate)) {
      this.partition = null
    }
  }

  private write(): void {
    const node = this.rng.pick(this.nodes)
    const name = `doc-${this.rng.int(this.options.docNames)}`
    const doc = node.doc(name)
    const record = this.written.get(name) ?? { ops: new Set<string>(), deleted: new Set<string>() }
    this.written.set(name, record)
    const deletable = [...doc.ops].filter((op) => !doc.deleted.has(op))
    if (deletable.length > 0 && this.rng.chance(this.options.deleteShare)) {
      const op = this.rng.pick(deletable)
      doc.deleted.add(op)
      record.deleted.add(op)
    } else {
      const op = `${node.id}.${this.result.writes}`
      doc.ops.add(op)
      record.ops.add(op)
    }
    this.result.writes++
    node.refresh(name)
  }

  /** Every node, in a random order, reconciles with one random peer it can reach. */
  private gossipRound(): void {
    for (const node of this.rng.shuffle([...this.nodes])) {
      const reachable = this.nodes.filter((peer) => peer !== node && this.canReach(node, peer))
      if (reachable.length === 0) continue
      this.reconcile(node, this.rng.pick(reachable))
    }
  }

  private reconcile(a: SimNode, b: SimNode): void {
    const delivered = () => !this.faulty || !this.rng.chance(this.options.dropRate)
    const outcome = reconcileOnce(a.items, b.items, this.options.reconciler, delivered)
    this.result.sessions++
    this.result.bytes += outcome.bytesFromInitiator + outcome.bytesFromResponder
    if (!outcome.completed) {
      this.result.abortedSessions++
      return
    }
    this.result.longestSession = Math.max(this.result.longestSession, outcome.messages)
    for (const name of outcome.differing) {
      a.mergeFrom(b, name)
      b.mergeFrom(a, name)
    }
  }

  private canReach(a: SimNode, b: SimNode): boolean {
    return this.partition === null || this.partition[a.id] === this.partition[b.id]
  }

  private converged(): boolean {
    const first = this.nodes[0]!.items.wholeSetFingerprintHex()
    return this.nodes.every((node) => node.items.wholeSetFingerprintHex() === first)
  }

  private divergence(): Divergence {
    const divergence: Divergence = {
      distinctStates: new Set(this.nodes.map((node) => node.items.wholeSetFingerprintHex())).size,
      missing: 0,
      deletionsOnly: 0,
    }
    for (const node of this.nodes) {
      for (const [name, record] of this.written) {
        const doc = node.docs.get(name)
        const lackingOps = [...record.ops].filter((op) => !doc?.ops.has(op)).length
        const lackingDeletions = [...record.deleted].filter((op) => !doc?.deleted.has(op)).length
        divergence.missing += lackingOps + lackingDeletions
        if (lackingOps === 0 && lackingDeletions > 0) divergence.deletionsOnly++
      }
    }
    return divergence
  }

  private checkNothingLost(): void {
    for (const node of this.nodes) {
      for (const [name, record] of this.written) {
        const doc = node.docs.get(name)
        const lacking = [
          ...[...record.ops].filter((op) => !doc?.ops.has(op)),
          ...[...record.deleted].filter((op) => !doc?.deleted.has(op)).map((op) => `the deletion of ${op}`),
        ]
        if (lacking.length > 0) throw new Error(`node ${node.id} lacks ${lacking.join(', ')} of ${name}`)
      }
    }
  }
}
