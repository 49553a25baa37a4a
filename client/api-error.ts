/** A non-2xx answer of a node's REST API, carrying its `{"error":{"code","message"}}`. */
export class SyncmeshApiError extends Error {
  override name = 'SyncmeshApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** `res` itself when it is a 2xx answer; otherwise throws its error as a SyncmeshApiError. */
export async function okOrThrow<R extends Response>(res: R): Promise<R> {
  if (res.ok) return res
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
  throw new SyncmeshApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? res.statusText)
}
