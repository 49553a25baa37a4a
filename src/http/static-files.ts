import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Context } from 'hono'
import { ApiError } from './api-error.js'

export interface StaticFiles {
  dir: string
  /** The files served, each with its content type; any other name is 404. */
  types: ReadonlyMap<string, string>
  cacheControl: string
  /** The 404 message for a listed file that is not there; without it, that is a failure of the node (500). */
  missing?: (file: string) => string
}

/** Serves the route's `:file` from `files.dir`. */
export function staticFile(files: StaticFiles) {
  return async (c: Context) => {
    const file = c.req.param('file') ?? ''
    const type = files.types.get(file)
    if (type === undefined) throw new ApiError(404, 'not_found', `no asset ${file}`)
    let source: Buffer<ArrayBuffer>
    try {
      source = await readFile(join(files.dir, file))
    } catch (err) {
      if (!files.missing) throw err
      throw new ApiError(404, 'not_found', files.missing(file))
    }
    return c.body(source, 200, { 'content-type': type, 'cache-control': files.cacheControl })
  }
}
