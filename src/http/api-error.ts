import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** The one error shape of the REST API: `{"error":{"code","message"}}`. */
export interface ErrorBody {
  error: { code: string; message: string }
}

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(status, { message })
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } }
  }
}
