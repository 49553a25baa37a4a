import type { RootDatabase } from 'lmdb'

/** Runs `fn` in one write transaction; resolves once it is committed and flushed to disk. */
export async function durableTransaction<T>(env: RootDatabase, fn: () => T): Promise<T> {
  const result = await env.transaction(fn)
  // With overlapping sync, commit and flush are separate events: durable means flushed.
  await env.flushed
  return result
}
