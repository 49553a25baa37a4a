import type { Rng } from '../sim/rng.js'

/** One fault of a chaos schedule. Timed faults end on their own after `forMs`. */
export type Fault =
  | { kind: 'kill'; node: string; forMs: number }
  | { kind: 'pause'; node: string; forMs: number }
  | { kind: 'isolate'; node: string; forMs: number }
  | { kind: 'split'; sides: [string[], string[]]; forMs: number }
  | { kind: 'one-way'; from: string; to: string; forMs: number }
  | { kind: 'add-member'; node: string }
  | { kind: 'remove-member'; node: string }
  | { kind: 'transfer-leader'; to: string }

/** What the planner needs to know of the cluster right now. */
export interface FaultState {
  /** Members whose processes the harness runs, in id order. */
  members: readonly string[]
  /** Spare ids never started yet. */
  spares: readonly string[]
  /** Members killed or paused now. */
  down: ReadonlySet<string>
  networkFaultActive: boolean
  membershipChangeActive: boolean
}

export interface FaultLimits {
  /** The cluster stays between these sizes. */
  minMembers: number
  maxMembers: number
  /** Members killed or paused at once. */
  maxDown: number
}

const durationMs = (rng: Rng) => 500 + rng.int(3_500)

/**
 * The next fault of a seeded schedule, or null when none fits the state right now. Pure: the same seed
 * and the same states give the same faults. A network fault, a process fault and a membership change may
 * all be under way at once; a member being removed is not the target of a new fault.
 */
export function nextFault(rng: Rng, state: FaultState, limits: FaultLimits): Fault | null {
  const up = state.members.filter((id) => !state.down.has(id))
  const kinds: Fault['kind'][] = ['transfer-leader']
  if (state.down.size < limits.maxDown && up.length > 1) kinds.push('kill', 'kill', 'pause')
  if (!state.networkFaultActive && up.length > 1) kinds.push('isolate', 'split', 'one-way')
  if (!state.membershipChangeActive) {
    if (state.members.length < limits.maxMembers && state.spares.length > 0) kinds.push('add-member')
    if (state.members.length > limits.minMembers && up.length > 1) kinds.push('remove-member')
  }
  const kind = rng.pick(kinds)
  switch (kind) {
    case 'kill':
    case 'pause':
      return { kind, node: rng.pick(up), forMs: durationMs(rng) }
    case 'isolate':
      return { kind, node: rng.pick(up), forMs: durationMs(rng) }
    case 'split': {
      const shuffled = rng.shuffle([...state.members])
      const cut = 1 + rng.int(shuffled.length - 1)
      return { kind, sides: [shuffled.slice(0, cut).sort(), shuffled.slice(cut).sort()], forMs: durationMs(rng) }
    }
    case 'one-way': {
      const [from, to] = rng.shuffle([...up])
      return { kind, from: from!, to: to!, forMs: durationMs(rng) }
    }
    case 'add-member':
      return { kind, node: state.spares[0]! }
    case 'remove-member':
      return { kind, node: rng.pick(up) }
    case 'transfer-leader':
      return up.length === 0 ? null : { kind, to: rng.pick(up) }
  }
}

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'kill':
    case 'pause':
    case 'isolate':
      return `${fault.kind} ${fault.node} for ${fault.forMs} ms`
    case 'split':
      return `split ${fault.sides[0].join(',')} | ${fault.sides[1].join(',')} for ${fault.forMs} ms`
    case 'one-way':
      return `one-way ${fault.from} -/-> ${fault.to} for ${fault.forMs} ms`
    case 'add-member':
    case 'remove-member':
      return `${fault.kind} ${fault.node}`
    case 'transfer-leader':
      return `transfer leadership to ${fault.to}`
  }
}
