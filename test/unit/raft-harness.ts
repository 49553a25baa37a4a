import { RaftCore } from '../../src/raft/core.js'
import { defaultRaftOptions, type RaftOptions } from '../../src/raft/options.js'
import type { Entry, Message, ReadState, Snapshot, SnapshotRefusal } from '../../src/raft/types.js'

/**
 * A hand-driven cluster of real RaftCores for scripted scenarios: an in-memory (fake) disk per node,
 * messages delivered only when the test says so, and a fixed "random" so election timeouts are exact.
 */
export class ScriptedCluster {
  readonly cores = new Map<string, RaftCore>()
  readonly applied = new Map<string, Entry[]>()
  readonly readStates = new Map<string, ReadState[]>()
  readonly dropped = new Map<string, string[]>()
  /** Snapshots each node received from a leader and restored its state from. */
  readonly installed = new Map<string, Snapshot[]>()
  readonly snapshotsRefused = new Map<string, SnapshotRefusal[]>()
  private inbox: Message[] = []
  private readonly cut = new Set<string>()

  constructor(voters: string[], options: Partial<RaftOptions> = {}, others: string[] = []) {
    const bootstrap: Snapshot = { index: 1, term: 1, config: { voters, replicas: [] }, data: new Uint8Array() }
    for (const id of voters) this.add(id, options, { hardState: { term: 1, vote: null, commit: 1 }, snapshot: bootstrap, entries: [] })
    for (const id of others) this.add(id, options, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] })
  }

  private add(id: string, options: Partial<RaftOptions>, stored: ConstructorParameters<typeof RaftCore>[1]): void {
    // Fixed, distinct election timeouts: no split votes in lockstep, and every run the same.
    const timeoutSpread = (this.cores.size * 0.3) % 1
    this.cores.set(id, new RaftCore({ ...defaultRaftOptions, random: () => timeoutSpread, ...options, id }, stored))
    this.applied.set(id, [])
    this.readStates.set(id, [])
    this.dropped.set(id, [])
    this.installed.set(id, [])
    this.snapshotsRefused.set(id, [])
  }

  core(id: string): RaftCore {
    return this.cores.get(id)!
  }

  /** Collects every node's Ready: messages go to the inbox, committed entries to `applied`. */
  flush(): void {
    for (const [id, core] of this.cores) {
      while (core.hasReady()) {
        const ready = core.ready()
        this.inbox.push(...ready.messages)
        this.applied.get(id)!.push(...ready.committed)
        this.readStates.get(id)!.push(...ready.readStates)
        this.dropped.get(id)!.push(...ready.readsDropped)
        if (ready.snapshotReceived && ready.snapshot) this.installed.get(id)!.push(ready.snapshot)
        this.snapshotsRefused.get(id)!.push(...ready.snapshotsRefused)
      }
    }
  }

  /** Takes the pending messages that match, leaving the others queued. */
  take(filter: (m: Message) => boolean = () => true): Message[] {
    this.flush()
    const taken = this.inbox.filter(filter)
    this.inbox = this.inbox.filter((m) => !filter(m))
    return taken
  }

  deliver(messages: Message[]): void {
    for (const m of messages) if (!this.cut.has(`${m.from}>${m.to}`)) this.cores.get(m.to)?.step(m)
    this.flush()
  }

  /** Delivers messages until the network is quiet. */
  settle(maxRounds = 100): void {
    for (let i = 0; i < maxRounds; i++) {
      const batch = this.take()
      if (batch.length === 0) return
      this.deliver(batch)
    }
    throw new Error('the cluster did not settle')
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) this.core(id).tick()
    this.flush()
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const core of this.cores.values()) core.tick()
      this.settle()
    }
  }

  /** Ticks `id` until its election timer fires. */
  timeout(id: string): void {
    const core = this.core(id)
    for (let i = 0; i < 2 * defaultRaftOptions.electionTimeoutTicks && core.status().role === 'follower'; i++) {
      this.tick(id)
    }
  }

  /** Makes `id` campaign, delivering every message. */
  elect(id: string): void {
    this.timeout(id)
    this.settle()
  }

  /** Makes `id` campaign, delivering only election messages: it leads, but has replicated nothing yet. */
  campaign(id: string): void {
    this.timeout(id)
    const electionTypes = new Set(['pre-vote', 'pre-vote-resp', 'vote', 'vote-resp'])
    for (let round = 0; round < 10; round++) this.deliver(this.take((m) => electionTypes.has(m.type)))
  }

  isolate(id: string): void {
    for (const other of this.cores.keys()) {
      if (other === id) continue
      this.cut.add(`${id}>${other}`)
      this.cut.add(`${other}>${id}`)
    }
  }

  /** Cuts both directions between `a` and `b` only. */
  cutLink(a: string, b: string): void {
    this.cut.add(`${a}>${b}`)
    this.cut.add(`${b}>${a}`)
  }

  heal(): void {
    this.cut.clear()
  }

  appliedData(id: string): unknown[] {
    return this.applied.get(id)!.filter((e) => e.data !== null).map((e) => e.data)
  }
}
