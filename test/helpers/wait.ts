export interface WaitOptions {
  timeoutMs?: number
  pollMs?: number
}

/** Polls `read` until `done` accepts what it returned, and returns that; fails naming `what` after the timeout. */
export async function waitForValue<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 20_000, pollMs = 10 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${typeof value === 'boolean' ? '' : `: ${JSON.stringify(value)?.slice(0, 1_000)}`}`)
    await sleep(pollMs)
  }
}

/** Polls `check` until it holds; fails naming `what` after the timeout (ms, or options). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, options: number | WaitOptions = {}): Promise<void> {
  await waitForValue(what, check, (holds) => holds, typeof options === 'number' ? { timeoutMs: options } : options)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
