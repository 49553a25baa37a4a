import pino from 'pino'
import { expect, test } from 'vitest'
import { TurnQueue } from '../../src/replication/turn-queue.js'
import { silentLog } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

const unbounded = 1024 * 1024

/** Order in which `jobs` and a callback the event loop runs meanwhile ran: the queue holds `jobs`, pushed at once. */
async function orderWith(budgetMs: number, jobs: string[]): Promise<string[]> {
  const ran: string[] = []
  const queue = new TurnQueue({ budgetMs, maxBytes: unbounded }, silentLog)
  for (const job of jobs) queue.push(() => ran.push(job), 1)
  // Queued after the queue's first turn: it runs between two of its turns, or after the queue is done.
  setImmediate(() => ran.push('other work'))
  await waitFor('every job', () => ran.length === jobs.length + 1)
  return ran
}

test('jobs run in the order they came; a turn that spent its budget lets the event loop serve others before the next', async () => {
  // A budget of 0 ms is spent by the first job of every turn: one job per turn.
  expect(await orderWith(0, ['a', 'b', 'c'])).toEqual(['a', 'other work', 'b', 'c'])
  expect(await orderWith(60_000, ['a', 'b', 'c'])).toEqual(['a', 'b', 'c', 'other work'])
})

test('a job that a job pushes runs after those already waiting', async () => {
  const ran: string[] = []
  const queue = new TurnQueue({ budgetMs: 60_000, maxBytes: unbounded }, silentLog)
  queue.push(() => {
    ran.push('a')
    queue.push(() => ran.push('pushed by a'), 1)
  }, 1)
  queue.push(() => ran.push('b'), 1)
  await waitFor('every job', () => ran.length === 3)
  expect(ran).toEqual(['a', 'b', 'pushed by a'])
})

test('input past maxBytes is refused while jobs wait; an empty queue takes one job of any size', async () => {
  const queue = new TurnQueue({ budgetMs: 60_000, maxBytes: 100 }, silentLog)
  let ran = 0
  expect(queue.push(() => ran++, 60)).toBe(true)
  expect(queue.push(() => ran++, 40)).toBe(true)
  expect(queue.push(() => ran++, 1)).toBe(false)
  expect(queue.length).toBe(2)
  await waitFor('the two jobs taken', () => ran === 2)
  expect(queue.push(() => ran++, 1_000)).toBe(true)
  expect(queue.push(() => ran++, 1)).toBe(false)
  await waitFor('the large job', () => ran === 3)
  expect(queue.length).toBe(0)
})

test('a job that throws is logged and the jobs after it still run', async () => {
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) })
  const queue = new TurnQueue({ budgetMs: 60_000, maxBytes: unbounded }, log)
  let ran = false
  queue.push(() => {
    throw new Error('broken job')
  }, 1)
  queue.push(() => (ran = true), 1)
  await waitFor('the job after the broken one', () => ran)
  expect(lines.some((line) => line.includes('broken job') && line.includes('queued replication work failed'))).toBe(true)
})

test('close drops the waiting jobs', async () => {
  const queue = new TurnQueue({ budgetMs: 0, maxBytes: unbounded }, silentLog)
  const ran: string[] = []
  queue.push(() => {
    ran.push('a')
    queue.close()
  }, 1)
  queue.push(() => ran.push('b'), 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(ran).toEqual(['a'])
  expect(queue.length).toBe(0)
})
