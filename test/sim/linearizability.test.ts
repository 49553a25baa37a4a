import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  HistoryRecorder,
  checkLinearizable,
  describeViolation,
  kvModel,
  registerModel,
  type KvInput,
  type KvOutput,
  type LinearizabilityViolation,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
} from './linearizability.js'
import { Rng } from './rng.js'

type RegisterOperation = Operation<RegisterInput, RegisterOutput>
type KvOperation = Operation<KvInput, KvOutput>

const write = (value: string, call: number, returned: number, clientId = 0): RegisterOperation => ({
  clientId,
  input: { op: 'write', value },
  call,
  return: returned,
  outcome: 'ok',
})
const read = (output: string | null, call: number, returned: number, clientId = 1): RegisterOperation => ({
  clientId,
  input: { op: 'read' },
  call,
  return: returned,
  output,
  outcome: 'ok',
})
const unknownWrite = (value: string, call: number): RegisterOperation => ({
  clientId: 2,
  input: { op: 'write', value },
  call,
  outcome: 'unknown',
})
const failedWrite = (value: string, call: number, returned: number): RegisterOperation => ({
  ...write(value, call, returned, 2),
  outcome: 'fail',
})
const kv = (input: KvInput, call: number, returned: number, output?: KvOutput): KvOperation => ({
  clientId: 0,
  input,
  call,
  return: returned,
  output,
  outcome: 'ok',
})

function expectLinearizable<State, Input, Output>(model: Model<State, Input, Output>, operations: Operation<Input, Output>[]): void {
  const result = checkLinearizable(model, operations)
  if (result.ok === false) expect.fail(describeViolation(result))
  expect(result).toEqual({ ok: true })
}

function expectViolation<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: Operation<Input, Output>[],
): LinearizabilityViolation<Input, Output> {
  const result = checkLinearizable(model, operations)
  if (result.ok !== false) expect.fail(`expected a linearizability violation, got ${JSON.stringify(result)}`)
  return result
}

describe('a register history is linearizable', () => {
  test('when it is empty', () => {
    expectLinearizable(registerModel, [])
  })

  test('when it is sequential and every read sees the latest write', () => {
    expectLinearizable(registerModel, [read(null, 0, 1), write('a', 2, 3), read('a', 4, 5), write('b', 6, 7), read('b', 8, 9)])
  })

  test('when a read overlapping a write sees the old value', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), write('b', 10, 20), read('a', 15, 25)])
  })

  test('when a read overlapping a write sees the new value', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), write('b', 10, 20), read('b', 5, 15)])
  })

  test('when overlapping reads, both concurrent with a write, see the new value and then the old one', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), write('b', 10, 40), read('b', 11, 20), read('a', 15, 30)])
  })

  test('when a later read sees a write of unknown outcome', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), unknownWrite('b', 5), read('b', 10, 11)])
  })

  test('when no read sees a write of unknown outcome', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), unknownWrite('b', 5), read('a', 10, 11), read('a', 20, 21)])
  })

  test('when a write of unknown outcome takes effect after later completed writes', () => {
    expectLinearizable(registerModel, [unknownWrite('a', 0), write('b', 10, 20), read('a', 30, 40)])
  })

  test('when a read returns at the instant a write is called, since closed intervals that touch overlap', () => {
    expectLinearizable(registerModel, [read('a', 0, 10), write('a', 10, 20)])
  })

  test('when a read of unknown outcome is left out, whatever it would have returned', () => {
    expectLinearizable(registerModel, [write('a', 0, 1), { clientId: 1, input: { op: 'read' }, call: 2, outcome: 'unknown' }])
  })
})

describe('a register history is not linearizable', () => {
  test('when a read that starts after a write returned sees the old value', () => {
    expectViolation(registerModel, [write('a', 0, 1), write('b', 10, 20), read('a', 21, 30)])
  })

  test('when two sequential reads, both concurrent with a write, see the new value and then the old one', () => {
    expectViolation(registerModel, [write('a', 0, 1), write('b', 10, 40), read('b', 11, 20), read('a', 21, 30)])
  })

  test('when a read sees a value never written', () => {
    expectViolation(registerModel, [write('a', 0, 10), read('z', 5, 15)])
  })

  test('when a read sees a write that definitely failed', () => {
    expectViolation(registerModel, [failedWrite('a', 0, 10), read('a', 20, 30)])
  })

  test('when a read sees a write of unknown outcome before the write was called', () => {
    expectViolation(registerModel, [read('a', 0, 5), unknownWrite('a', 10)])
  })

  test('when the initial value reappears after a completed write', () => {
    expectViolation(registerModel, [write('a', 0, 10), read(null, 20, 30)])
  })
})

describe('a key-value history', () => {
  test('is linearizable when each key reads its latest put or delete', () => {
    expectLinearizable(kvModel, [
      kv({ op: 'put', key: 'x', value: '1' }, 0, 10),
      kv({ op: 'put', key: 'y', value: '2' }, 5, 15),
      kv({ op: 'get', key: 'x' }, 20, 30, '1'),
      kv({ op: 'delete', key: 'x' }, 31, 40),
      kv({ op: 'get', key: 'x' }, 41, 50, null),
      kv({ op: 'get', key: 'y' }, 41, 50, '2'),
    ])
  })

  test('is not linearizable when a get after a delete sees the deleted value', () => {
    expectViolation(kvModel, [
      kv({ op: 'put', key: 'x', value: '1' }, 0, 10),
      kv({ op: 'delete', key: 'x' }, 20, 30),
      kv({ op: 'get', key: 'x' }, 40, 50, '1'),
    ])
  })

  test('with a lost update is not linearizable, and the violation names the key whose update was lost', () => {
    const lostPut = kv({ op: 'put', key: 'y', value: '2' }, 0, 10)
    const missingRead = kv({ op: 'get', key: 'y' }, 20, 30, null)
    const violation = expectViolation(kvModel, [
      kv({ op: 'put', key: 'x', value: '1' }, 0, 10),
      lostPut,
      kv({ op: 'get', key: 'x' }, 20, 30, '1'),
      missingRead,
    ])
    expect(violation.partition).toBe(1)
    expect(violation.operations).toEqual([lostPut, missingRead])
    expect(violation.longestLinearization).toEqual([lostPut])
  })
})

test('a violation is described with its part’s operations by call time, linearized or not', () => {
  const violation = expectViolation(registerModel, [write('a', 0, 10), write('b', 20, 30), read('a', 40, 50)])
  expect(describeViolation(violation)).toBe(
    [
      'part 0 is not linearizable; the longest legal linearization found covers 2 of 3 operations:',
      '  linearized #1    client 0 [0, 10] {"op":"write","value":"a"} → nothing',
      '  linearized #2    client 0 [20, 30] {"op":"write","value":"b"} → nothing',
      '  not linearized   client 1 [40, 50] {"op":"read"} → "a"',
    ].join('\n'),
  )
})

test('a search that outlasts timeoutMs gives up with a timeout', () => {
  // Every subset of concurrent writes is a distinct configuration, and the impossible read forces visiting them all.
  const concurrentWrites = Array.from({ length: 40 }, (_, i) => write(`v${i}`, 0, 100, i))
  const result = checkLinearizable(registerModel, [...concurrentWrites, read('never written', 0, 100)], { timeoutMs: 50 })
  expect(result).toEqual({ ok: 'timeout' })
})

describe('HistoryRecorder', () => {
  test('records each outcome, and counts an operation never completed as unknown', () => {
    const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>()
    const written = recorder.invoke('c1', { op: 'write', value: 'a' }, 0)
    const readBack = recorder.invoke('c2', { op: 'read' }, 1)
    const failed = recorder.invoke('c3', { op: 'write', value: 'b' }, 2)
    const timedOut = recorder.invoke('c4', { op: 'write', value: 'c' }, 3)
    recorder.invoke('c5', { op: 'read' }, 4)
    recorder.ok(written, undefined, 5)
    recorder.ok(readBack, 'a', 6)
    recorder.fail(failed, 7)
    recorder.unknown(timedOut)
    expect(recorder.operations()).toEqual([
      { clientId: 'c1', input: { op: 'write', value: 'a' }, call: 0, return: 5, output: undefined, outcome: 'ok' },
      { clientId: 'c2', input: { op: 'read' }, call: 1, return: 6, output: 'a', outcome: 'ok' },
      { clientId: 'c3', input: { op: 'write', value: 'b' }, call: 2, return: 7, outcome: 'fail' },
      { clientId: 'c4', input: { op: 'write', value: 'c' }, call: 3, outcome: 'unknown' },
      { clientId: 'c5', input: { op: 'read' }, call: 4, outcome: 'unknown' },
    ])
  })

  test('refuses to complete an operation twice or before its call', () => {
    const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>()
    const id = recorder.invoke(0, { op: 'read' }, 10)
    expect(() => recorder.ok(id, null, 9)).toThrow(/before its call/)
    recorder.ok(id, null, 11)
    expect(() => recorder.fail(id, 12)).toThrow(/already completed/)
  })
})

/**
 * How a generated operation ends: 'ok' takes effect at its linearization point and returns; 'fail'
 * does not take effect; an unknown outcome may have taken effect (applied) or not (lost).
 */
type Fate = 'ok' | 'fail' | 'unknown-applied' | 'unknown-lost'

interface PlannedOperation<Input> {
  input: Input
  /** How long before its linearization point the operation is called. */
  leadTime: number
  /** How long after its linearization point the operation returns. */
  lagTime: number
  fate: Fate
}

const linearizationSpacing = 10

/**
 * Runs the operations one by one against a real sequential store, the i-th at time i × spacing,
 * and records each with an interval around that moment, so the recorded history is linearizable
 * by construction.
 */
function recordSequentialRun<Input, Output>(
  apply: (input: Input) => Output | undefined,
  plan: readonly PlannedOperation<Input>[],
): Operation<Input, Output>[] {
  const recorder = new HistoryRecorder<Input, Output>()
  plan.forEach(({ input, leadTime, lagTime, fate }, i) => {
    const linearizedAt = i * linearizationSpacing
    const id = recorder.invoke(i % 5, input, linearizedAt - leadTime)
    switch (fate) {
      case 'ok':
        return recorder.ok(id, apply(input), linearizedAt + lagTime)
      case 'fail':
        return recorder.fail(id, linearizedAt + lagTime)
      case 'unknown-applied':
        apply(input)
        return recorder.unknown(id)
      case 'unknown-lost':
        return recorder.unknown(id)
    }
  })
  return recorder.operations()
}

function applyToRegister(): (input: RegisterInput) => RegisterOutput | undefined {
  let value: string | null = null
  return (input) => {
    if (input.op === 'read') return value
    value = input.value
    return undefined
  }
}

function applyToMap(): (input: KvInput) => KvOutput | undefined {
  const map = new Map<string, string>()
  return (input) => {
    if (input.op === 'get') return map.get(input.key) ?? null
    if (input.op === 'put') map.set(input.key, input.value)
    else map.delete(input.key)
    return undefined
  }
}

const fate: fc.Arbitrary<Fate> = fc.oneof(
  { arbitrary: fc.constant('ok' as const), weight: 6 },
  { arbitrary: fc.constantFrom('fail' as const, 'unknown-applied' as const, 'unknown-lost' as const), weight: 1 },
)

/** Up to four intervals' worth of neighbours on each side overlap an operation. */
const plannedTiming = { leadTime: fc.nat(4 * linearizationSpacing), lagTime: fc.nat(4 * linearizationSpacing), fate }

// Every write gets a value of its own, so that a read says which write it saw.
const registerPlan = fc
  .array(fc.record({ isWrite: fc.boolean(), ...plannedTiming }), { minLength: 1, maxLength: 40 })
  .map((steps) =>
    steps.map(({ isWrite, ...timing }, i): PlannedOperation<RegisterInput> => ({
      input: isWrite ? { op: 'write', value: `v${i}` } : { op: 'read' },
      ...timing,
    })),
  )

const kvPlan = fc
  .array(fc.record({ op: fc.constantFrom('put', 'delete', 'get'), key: fc.constantFrom('a', 'b', 'c'), ...plannedTiming }), {
    minLength: 1,
    maxLength: 60,
  })
  .map((steps) =>
    steps.map(({ op, key, ...timing }, i): PlannedOperation<KvInput> => ({
      input: op === 'put' ? { op, key, value: `v${i}` } : { op, key },
      ...timing,
    })),
  )

/**
 * Values a completed read can never have seen: one never written, and those of writes that
 * definitely failed or were called only after the read returned.
 */
function valuesUnseenBy(readOperation: RegisterOperation, history: readonly RegisterOperation[]): string[] {
  const seeable = new Set<string>()
  const unseen = new Set<string>(['never written'])
  for (const { input, call, outcome } of history) {
    if (input.op !== 'write') continue
    if (outcome !== 'fail' && call <= readOperation.return!) seeable.add(input.value)
    else unseen.add(input.value)
  }
  return [...unseen].filter((value) => !seeable.has(value))
}

describe('properties', () => {
  test('a history recorded around a sequential register’s real run is linearizable', () => {
    fc.assert(
      fc.property(registerPlan, (plan) => {
        expectLinearizable(registerModel, recordSequentialRun(applyToRegister(), plan))
      }),
    )
  })

  test('a history recorded around a sequential key-value map’s real run is linearizable', () => {
    fc.assert(
      fc.property(kvPlan, (plan) => {
        expectLinearizable(kvModel, recordSequentialRun(applyToMap(), plan))
      }),
    )
  })

  test('changing one completed read to a value no concurrent or earlier write produced makes a history not linearizable', () => {
    fc.assert(
      fc.property(registerPlan, fc.nat(), fc.nat(), (plan, readChoice, valueChoice) => {
        const history = recordSequentialRun(applyToRegister(), plan)
        const completedReads = history.filter(({ input, outcome }) => input.op === 'read' && outcome === 'ok')
        fc.pre(completedReads.length > 0)
        const target = completedReads[readChoice % completedReads.length]!
        const candidates = valuesUnseenBy(target, history)
        const mutated = { ...target, output: candidates[valueChoice % candidates.length]! }
        expectViolation(
          registerModel,
          history.map((operation) => (operation === target ? mutated : operation)),
        )
      }),
    )
  })
})

describe('per-key partitioning', () => {
  const keys = Array.from({ length: 10 }, (_, i) => `key${i}`)
  const inputs: ((rng: Rng, i: number) => KvInput)[] = [
    (rng, i) => ({ op: 'put', key: rng.pick(keys), value: `v${i}` }),
    (rng) => ({ op: 'delete', key: rng.pick(keys) }),
    (rng) => ({ op: 'get', key: rng.pick(keys) }),
    (rng) => ({ op: 'get', key: rng.pick(keys) }),
  ]
  const seed = 1

  function thousandOperationHistory(): KvOperation[] {
    const rng = new Rng(seed)
    const fates: Fate[] = ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'fail', 'unknown-applied', 'unknown-lost']
    const plan = Array.from({ length: 1000 }, (_, i) => ({
      input: rng.pick(inputs)(rng, i),
      // Up to 20 neighbours on each side overlap: checked as one whole map, the search does not finish.
      leadTime: rng.int(20 * linearizationSpacing),
      lagTime: rng.int(20 * linearizationSpacing),
      fate: rng.pick(fates),
    }))
    return recordSequentialRun(applyToMap(), plan)
  }

  test(`keeps a 1000-operation history over 10 keys tractable (seed ${seed})`, () => {
    expectLinearizable(kvModel, thousandOperationHistory())
  })

  test(`finds the one corrupted get in a 1000-operation history over 10 keys (seed ${seed})`, () => {
    const history = thousandOperationHistory()
    const target = history.findLast(({ input, outcome }) => input.op === 'get' && outcome === 'ok')!
    const violation = expectViolation(
      kvModel,
      history.map((operation) => (operation === target ? { ...target, output: 'never written' } : operation)),
    )
    expect(violation.operations.every(({ input }) => input.key === target.input.key)).toBe(true)
  })
})
