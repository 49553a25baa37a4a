import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { z } from 'zod'

/**
 * The one error shape of the REST API: `{"error":{"code","message"}}`. Some errors tell more, in fields of
 * their own beside those two (a 410 of the change feed: `oldestCursor`).
 */
export interface ErrorBody {
  error: { code: string; message: string } & Record<string, string>
}

export const errorBody = (code: string, message: string, details: Record<string, string> = {}): ErrorBody => ({
  error: { ...details, code, message },
})

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(status, { message })
  }

  body(): ErrorBody {
    return errorBody(this.code, this.message, this.details)
  }
}

/** Validates request input against `schema`; a mismatch is a 400 with `code`, naming the first bad field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, code: string, what: string): z.infer<T> {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ApiError(400, code, `${issue.path.join('.') || what}: ${issue.message}`)
  }
  return parsed.data
}
