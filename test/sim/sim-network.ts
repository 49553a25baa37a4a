import type { Rng } from './rng.js'

export interface NetworkFaults {
  dropRate: number
  duplicateRate: number
  /** Extra delay in ticks, drawn uniformly in [0, maxDelayTicks]; unequal delays reorder messages. */
  maxDelayTicks: number
}

interface InFlight<M> {
  deliverAt: number
  from: string
  to: string
  message: M
}

/**
 * A simulated network (a fake, for deterministic simulation only): every fault is drawn from the seeded
 * RNG. Links are directed, so a partition can be symmetric, one-way, or leave a bridge node that
 * reaches both sides.
 */
export class SimNetwork<M> {
  private queue: InFlight<M>[] = []
  private readonly cut = new Set<string>()

  constructor(
    private readonly rng: Rng,
    public faults: NetworkFaults,
  ) {}

  send(now: number, from: string, to: string, message: M): void {
    if (this.cut.has(`${from}>${to}`) || this.rng.chance(this.faults.dropRate)) return
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      this.queue.push({ deliverAt: now + this.rng.int(this.faults.maxDelayTicks + 1), from, to, message })
    }
  }

  /** Messages due by `now`, in a random order, still subject to cuts made while they were in flight. */
  deliverable(now: number): { from: string; to: string; message: M }[] {
    const due = this.queue.filter((m) => m.deliverAt <= now)
    this.queue = this.queue.filter((m) => m.deliverAt > now)
    return this.rng.shuffle(due).filter((m) => !this.cut.has(`${m.from}>${m.to}`))
  }

  cutLink(from: string, to: string): void {
    this.cut.add(`${from}>${to}`)
  }

  /** Cuts every link between the two groups, in both directions. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y)
        this.cutLink(y, x)
      }
    }
  }

  heal(): void {
    this.cut.clear()
  }

  get partitioned(): boolean {
    return this.cut.size > 0
  }
}
