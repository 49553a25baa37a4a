/**
 * A linearizability checker for recorded histories of concurrent operations.
 *
 * The search is Wing and Gong's, with the refinements of Lowe ("Testing for linearizability", 2017)
 * that Porcupine and Knossos also use:
 * - just-in-time linearization: calls and returns sit in one time-ordered doubly linked list. An
 *   operation may be linearized next only if its call precedes every remaining return; once
 *   linearized, its events are unlinked, and relinked in O(1) when the search backtracks.
 * - memoization: a (set of linearized operations, model state) pair is explored at most once, which
 *   bounds the search by the number of distinct configurations instead of by interleavings.
 * - P-compositionality: a model may split a history into independent parts (a key-value store per
 *   key); a history is linearizable iff every part is, and many small searches are far cheaper than
 *   one big one.
 */
import assert from 'node:assert/strict'

export type ClientId = number | string

/**
 * 'ok': completed with a known output. 'fail': definitely did not take effect; dropped before
 * checking. 'unknown': timed out or crashed; it may take effect at any moment after its call, or never.
 */
export type Outcome = 'ok' | 'fail' | 'unknown'

export interface Operation<Input, Output> {
  clientId: ClientId
  input: Input
  /** When the client invoked the operation. All operations of a history share one clock. */
  call: number
  /** When the client saw the result. Required when the outcome is 'ok'; ignored otherwise. */
  return?: number
  /** What the operation returned; absent if it returns nothing. Ignored unless the outcome is 'ok'. */
  output?: Output
  outcome: Outcome
}

/** The output `Model.step` is given for an operation whose outcome is unknown. */
export const unknownOutput: unique symbol = Symbol('unknown output')
export type UnknownOutput = typeof unknownOutput

export interface StepResult<State> {
  /** Whether the operation may return this output in this state. */
  ok: boolean
  next: State
}

/** The sequential specification that histories are checked against. */
export interface Model<State, Input, Output> {
  init(): State
  /**
   * Applies `input` to `state` (without mutating it) and says whether it may return `output`.
   * `output` is `undefined` for an operation that returned nothing, and `unknownOutput` for one whose
   * outcome is unknown: any output was possible then, so the step must accept it.
   */
  step(state: State, input: Input, output: Output | undefined | UnknownOutput): StepResult<State>
  /** The memoization key: equal states must have equal keys and different states different keys. */
  stateKey(state: State): string
  /** Splits a history into parts that do not affect one another, each checked on its own. */
  partition?(operations: readonly Operation<Input, Output>[]): Operation<Input, Output>[][]
}

export interface LinearizabilityViolation<Input, Output> {
  ok: false
  /** Which of the parts returned by `Model.partition` is not linearizable; 0 without partitioning. */
  partition: number
  /** That part's operations (failed ones dropped). */
  operations: Operation<Input, Output>[]
  /** The longest legal linearization the search found, in order: a hint of where it got stuck. */
  longestLinearization: Operation<Input, Output>[]
}

export type CheckResult<Input, Output> = { ok: true } | { ok: 'timeout' } | LinearizabilityViolation<Input, Output>

export interface CheckOptions {
  /** Gives up with `{ ok: 'timeout' }` after this long; no limit by default. */
  timeoutMs?: number
}

const iterationsBetweenDeadlineChecks = 1024

/** Whether some total order of the operations, consistent with their real-time order, is legal for the model. */
export function checkLinearizable<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const deadlineMs = performance.now() + (options.timeoutMs ?? Infinity)
  const mayHaveTakenEffect = operations.filter((operation) => operation.outcome !== 'fail')
  const parts = model.partition?.(mayHaveTakenEffect) ?? [mayHaveTakenEffect]
  const partitionedCount = parts.reduce((count, part) => count + part.length, 0)
  assert.equal(partitionedCount, mayHaveTakenEffect.length, 'Model.partition must place every operation in exactly one part')
  for (const [index, part] of parts.entries()) {
    const result = searchLinearization(model, part, deadlineMs)
    // The deadline is shared, so the remaining parts would time out at once.
    if (result === 'timeout') return { ok: 'timeout' }
    if (result !== 'linearizable') {
      const longestLinearization = result.longestLinearization.map((i) => part[i]!)
      return { ok: false, partition: index, operations: part, longestLinearization }
    }
  }
  return { ok: true }
}

/** A multi-line account of a violation: the failing part's operations by call time, in linearization order where found. */
export function describeViolation<Input, Output>(violation: LinearizabilityViolation<Input, Output>): string {
  const positions = new Map(violation.longestLinearization.map((operation, i) => [operation, i + 1]))
  const byCall = [...violation.operations].sort((a, b) => a.call - b.call)
  const lines = byCall.map((operation) => {
    const position = positions.get(operation)
    const order = position === undefined ? 'not linearized' : `linearized #${position}`
    return `  ${order.padEnd(16)} ${describeOperation(operation)}`
  })
  const summary = `part ${violation.partition} is not linearizable; the longest legal linearization found covers ${positions.size} of ${byCall.length} operations:`
  return [summary, ...lines].join('\n')
}

function describeOperation<Input, Output>(operation: Operation<Input, Output>): string {
  const end = operation.outcome === 'ok' ? String(operation.return) : '∞'
  const output = operation.outcome !== 'ok' ? '?' : operation.output === undefined ? 'nothing' : JSON.stringify(operation.output)
  return `client ${operation.clientId} [${operation.call}, ${end}] ${JSON.stringify(operation.input)} → ${output}`
}

type SearchResult = 'linearizable' | 'timeout' | { longestLinearization: number[] }

interface Choice<State> {
  call: EventNode
  stateBefore: State
  stateKeyBefore: string
}

/**
 * Depth-first search for a linearization. Each step either linearizes the first call in the event
 * list that the model accepts and that leads to an unexplored configuration, or, on reaching a
 * return (an operation that had to be linearized by now but was not), undoes the latest choice and
 * tries the calls after it.
 */
function searchLinearization<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  deadlineMs: number,
): SearchResult {
  const head = linkEvents(operations)
  const linearized = new Bitset(operations.length)
  const explored = new Set<string>()
  const choices: Choice<State>[] = []
  let longestLinearization: number[] = []
  let state = model.init()
  let stateKey = model.stateKey(state)
  let event = head.next
  for (let iteration = 0; ; iteration++) {
    if (iteration % iterationsBetweenDeadlineChecks === 0 && performance.now() >= deadlineMs) return 'timeout'
    // Only calls of unknown-outcome operations can be left here, and those may never have taken effect.
    if (event === head) return 'linearizable'
    if (event.kind === 'return') {
      const undone = choices.pop()
      if (undone === undefined) return { longestLinearization }
      state = undone.stateBefore
      stateKey = undone.stateKeyBefore
      linearized.clear(undone.call.operation)
      relink(undone.call)
      event = undone.call.next
      continue
    }
    const operation = operations[event.operation]!
    const step = model.step(state, operation.input, operation.outcome === 'ok' ? operation.output : unknownOutput)
    const nextStateKey = step.ok ? model.stateKey(step.next) : null
    // An unknown-outcome operation that leaves the state as it is (a read) need not be linearized:
    // leaving it out altogether is allowed and keeps strictly more options open.
    const worthTrying = nextStateKey !== null && (operation.outcome === 'ok' || nextStateKey !== stateKey)
    const configuration = worthTrying ? `${linearized.keyWith(event.operation)}|${nextStateKey}` : null
    if (configuration === null || explored.has(configuration)) {
      event = event.next
      continue
    }
    explored.add(configuration)
    choices.push({ call: event, stateBefore: state, stateKeyBefore: stateKey })
    state = step.next
    stateKey = nextStateKey!
    linearized.set(event.operation)
    unlink(event)
    if (choices.length > longestLinearization.length) longestLinearization = choices.map((choice) => choice.call.operation)
    event = head.next
  }
}

/** A node of a circular doubly linked list of events; the list's head is a node of kind 'head'. */
class EventNode {
  prev: EventNode = this
  next: EventNode = this

  constructor(
    readonly kind: 'head' | 'call' | 'return',
    /** Index of the operation the event belongs to. */
    readonly operation: number,
    /** For a call: its operation's return, or null if the outcome is unknown (it never returns). */
    readonly returnEvent: EventNode | null = null,
  ) {}

  insertBefore(node: EventNode): void {
    this.prev = node.prev
    this.next = node
    node.prev.next = this
    node.prev = this
  }
}

/**
 * Builds the event list in time order. Intervals are closed: when one operation returns at the
 * instant another is called, the call is ordered first, so the two count as concurrent.
 */
function linkEvents<Input, Output>(operations: readonly Operation<Input, Output>[]): EventNode {
  const timed: { time: number; node: EventNode }[] = []
  operations.forEach((operation, index) => {
    assert.ok(Number.isFinite(operation.call), `operation ${index} has no call time`)
    if (operation.outcome !== 'ok') {
      timed.push({ time: operation.call, node: new EventNode('call', index) })
      return
    }
    const returnTime = operation.return
    assert.ok(returnTime !== undefined && returnTime >= operation.call, `operation ${index} returns before its call`)
    const returnEvent = new EventNode('return', index)
    timed.push({ time: operation.call, node: new EventNode('call', index, returnEvent) }, { time: returnTime, node: returnEvent })
  })
  const returnsLast = (node: EventNode) => (node.kind === 'return' ? 1 : 0)
  timed.sort((a, b) => a.time - b.time || returnsLast(a.node) - returnsLast(b.node) || a.node.operation - b.node.operation)
  const head = new EventNode('head', -1)
  for (const { node } of timed) node.insertBefore(head)
  return head
}

/** Takes a linearized operation's events out of the list. Relink in the reverse order of unlinking. */
function unlink(call: EventNode): void {
  unlinkNode(call)
  if (call.returnEvent) unlinkNode(call.returnEvent)
}

function relink(call: EventNode): void {
  if (call.returnEvent) relinkNode(call.returnEvent)
  relinkNode(call)
}

// An unlinked node keeps its own prev and next, which is what lets relinkNode put it back (dancing links).
function unlinkNode(node: EventNode): void {
  node.prev.next = node.next
  node.next.prev = node.prev
}

function relinkNode(node: EventNode): void {
  node.prev.next = node
  node.next.prev = node
}

class Bitset {
  private readonly words: Uint32Array

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32))
  }

  set(index: number): void {
    const word = index >>> 5
    this.words[word] = this.words[word]! | (1 << (index & 31))
  }

  clear(index: number): void {
    const word = index >>> 5
    this.words[word] = this.words[word]! & ~(1 << (index & 31))
  }

  /** A string naming this set with `index` added, without changing the set. */
  keyWith(index: number): string {
    const wasSet = this.has(index)
    this.set(index)
    const key = this.words.join(',')
    if (!wasSet) this.clear(index)
    return key
  }

  private has(index: number): boolean {
    return (this.words[index >>> 5]! & (1 << (index & 31))) !== 0
  }
}

/** Records a history as it happens; `operations()` gives it to `checkLinearizable`. */
export class HistoryRecorder<Input, Output> {
  private readonly recorded: Operation<Input, Output>[] = []
  private readonly completed = new Set<number>()

  /** Records a call and returns the id that completes it. */
  invoke(clientId: ClientId, input: Input, time: number): number {
    this.recorded.push({ clientId, input, call: time, outcome: 'unknown' })
    return this.recorded.length - 1
  }

  /** The operation took effect; `output` is undefined for one that returns nothing. */
  ok(id: number, output: Output | undefined, time: number): void {
    const operation = this.complete(id, time)
    operation.outcome = 'ok'
    operation.output = output
    operation.return = time
  }

  /** The operation definitely did not take effect. */
  fail(id: number, time: number): void {
    const operation = this.complete(id, time)
    operation.outcome = 'fail'
    operation.return = time
  }

  /** The operation's effect is unknown: it may have taken effect at any time after its call, or never. */
  unknown(id: number): void {
    this.complete(id)
  }

  /** The history so far. An operation not yet completed counts as unknown, like a crashed client's. */
  operations(): Operation<Input, Output>[] {
    return this.recorded.map((operation) => ({ ...operation }))
  }

  private complete(id: number, time = Infinity): Operation<Input, Output> {
    const operation = this.recorded[id]
    assert.ok(operation !== undefined, `no operation ${id} was invoked`)
    assert.ok(!this.completed.has(id), `operation ${id} was already completed`)
    assert.ok(time >= operation.call, `operation ${id} completes at ${time}, before its call at ${operation.call}`)
    this.completed.add(id)
    return operation
  }
}

/** A `Model.partition` that checks operations with different keys independently. */
export function partitionBy<Input, Output>(
  keyOf: (input: Input) => string,
): (operations: readonly Operation<Input, Output>[]) => Operation<Input, Output>[][] {
  return (operations) => {
    const parts = new Map<string, Operation<Input, Output>[]>()
    for (const operation of operations) {
      const key = keyOf(operation.input)
      const part = parts.get(key)
      if (part) part.push(operation)
      else parts.set(key, [operation])
    }
    return [...parts.values()]
  }
}

export type RegisterInput = { op: 'write'; value: string } | { op: 'read' }
/** A read's value, null before the first write. A write returns nothing. */
export type RegisterOutput = string | null

/** One read/write register, initially null. */
export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: (state, input, output) =>
    input.op === 'write' ? { ok: true, next: input.value } : { ok: output === unknownOutput || output === state, next: state },
  stateKey: (state) => JSON.stringify(state),
}

export type KvInput = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string } | { op: 'get'; key: string }
/** A get's value, null if the key is absent. Put and delete return nothing. */
export type KvOutput = string | null
export type KvState = ReadonlyMap<string, string>

/** A key-value map, initially empty, checked key by key. */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => new Map(),
  step: (state, input, output) => {
    switch (input.op) {
      case 'put':
        return { ok: true, next: new Map(state).set(input.key, input.value) }
      case 'delete': {
        const next = new Map(state)
        next.delete(input.key)
        return { ok: true, next }
      }
      case 'get':
        return { ok: output === unknownOutput || output === (state.get(input.key) ?? null), next: state }
    }
  },
  stateKey: (state) => JSON.stringify([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  partition: partitionBy((input) => input.key),
}
