import { hc, type ClientResponse } from 'hono/client'
import type { NodeApi } from '../src/http/app.js'
import { okOrThrow } from './api-error.js'

/** A token, or a function that fetches a fresh one before every request. */
export type TokenSource = string | (() => string | Promise<string>)

export interface NodeApiOptions {
  /** The node's base URL, e.g. `http://127.0.0.1:4000`. */
  url: string
  /** Sent as `Authorization: Bearer`: the admin token, or a client token for the document routes. */
  token?: TokenSource
  fetch?: typeof fetch
}

/** The REST options for one of a sync client's endpoints, which may be written as ws(s) URLs. */
export function endpointApi(endpoint: string, token: TokenSource | undefined): NodeApiOptions {
  return { url: endpoint.replace(/^ws/, 'http'), ...(token !== undefined && { token }) }
}

/** An `hc` client typed by the node's Hono app: every route, its inputs and its answers. */
export function nodeApi(options: NodeApiOptions) {
  const { token } = options
  return hc<NodeApi>(options.url.replace(/\/+$/, ''), {
    ...(options.fetch && { fetch: options.fetch }),
    headers: async (): Promise<Record<string, string>> =>
      token === undefined ? {} : { authorization: `Bearer ${typeof token === 'string' ? token : await token()}` },
  })
}

export type NodeApiClient = ReturnType<typeof nodeApi>

/** A route's path parameter, percent-encoded: `hc` puts `param` values into the path as they are. */
export const pathParam = <K extends string>(key: K, value: string) => ({ [key]: encodeURIComponent(value) }) as Record<K, string>

/** The JSON body of a 2xx answer, typed as the route declares it; other answers throw SyncmeshApiError. */
export async function jsonOf<T>(pending: Promise<ClientResponse<T, number, 'json'>>): Promise<T> {
  return (await okOrThrow(await pending)).json()
}
