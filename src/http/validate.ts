import type { Env, MiddlewareHandler } from 'hono'
import type { z } from 'zod'
import { ApiError, parseInput } from './api-error.js'

/**
 * Validates the JSON body against `schema` (400 `invalid_json` or `invalid_body`); the handler reads it with
 * `c.req.valid('json')`, and `hc` clients see the schema's input type as the route's `json` argument. An
 * empty body counts as absent, for schemas that allow that.
 */
export function jsonBody<T extends z.ZodType<object>, E extends Env = Env, P extends string = string>(
  schema: T,
): MiddlewareHandler<E, P, { in: { json: z.input<T> }; out: { json: z.output<T> } }> {
  return async (c, next) => {
    const text = await c.req.text()
    let value: unknown
    if (text.trim() === '' && schema.safeParse(undefined).success) value = undefined
    else {
      try {
        value = JSON.parse(text)
      } catch {
        throw new ApiError(400, 'invalid_json', 'the body is not JSON')
      }
    }
    c.req.addValidatedData('json', parseInput(schema, value, 'invalid_body', 'body'))
    await next()
  }
}

/** Validates the query string against `schema` (400 `invalid_query`); on the wire every value is a string. */
export function queryParams<T extends z.ZodType<object>, E extends Env = Env, P extends string = string>(
  schema: T,
): MiddlewareHandler<E, P, { in: { query: { [K in keyof z.output<T>]?: string } }; out: { query: z.output<T> } }> {
  return async (c, next) => {
    c.req.addValidatedData('query', parseInput(schema, c.req.query(), 'invalid_query', 'query'))
    await next()
  }
}
