/** A non-2xx answer of a node's REST API, carrying its `{"error":{"code","message"}}` and any other field of it in `details`. */
export class SyncmeshApiError extends Error {
  override name = 'SyncmeshApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

/** `res` itself when it is a 2xx answer; otherwise throws its error as a SyncmeshApiError. */
export async function okOrThrow<R extends Response>(res: R): Promise<R> {
  if (res.ok) return res
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } & Record<string, unknown> } | null
  const { code = 'http_error', message = res.statusText, ...details } = body?.error ?? {}
  throw new SyncmeshApiError(res.status, code, message, details)
}
