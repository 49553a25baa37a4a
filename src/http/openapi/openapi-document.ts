import { z } from 'zod'
import { errorAnswer } from './answers.js'
import type { Answer, RouteDoc } from './route-catalog.js'

type JsonObject = Record<string, unknown>

const errorRef = { $ref: '#/components/schemas/Error' }

const statusText: Record<number, string> = {
  400: 'the request is malformed: a bad parameter, body, name or header',
  401: 'no token, or one that is invalid or expired',
  403: 'the token does not allow this',
  404: 'nothing by that name',
  409: 'refused: it conflicts with what exists',
  410: 'gone: a deleted document, or a change-feed cursor this node no longer serves',
  413: 'too large',
  500: 'the node failed; the error is in its log',
  503: 'not now: no leader or quorum, too many consumers, shutting down or removed',
}

/**
 * The OpenAPI 3.1 document of the REST API, generated from the zod schemas the routes validate requests with
 * (and the answers are checked against in the tests). Schemas with an id (`.meta({ id })`) become components.
 */
export function openApiDocument(routes: readonly RouteDoc[], info: { version: string }): JsonObject {
  const components: Record<string, JsonObject> = {}
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonObject => {
    const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' })
    // Schemas with an id come back in $defs: they become components, referred to from there.
    const moved = JSON.parse(JSON.stringify(converted).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonObject
    const { $schema: _, $defs, ...rest } = moved as JsonObject & { $defs?: Record<string, JsonObject> }
    for (const [id, definition] of Object.entries($defs ?? {})) components[id] = definition
    return rest
  }
  // Converting it registers it under its id, Error, which every error answer refers to.
  toSchema(errorAnswer, 'output')
  const paths: Record<string, JsonObject> = {}
  for (const route of routes) {
    const path = openApiPath(route.path)
    const operation: JsonObject = {
      tags: [route.tag],
      summary: route.summary,
      ...(route.description && { description: route.description }),
      operationId: `${route.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      security: route.auth === 'admin' ? [{ adminToken: [] }] : route.auth === 'client' ? [{}, { clientToken: [] }] : [],
      parameters: [...pathParameters(route), ...queryParameters(route, toSchema), ...(route.idempotent ? [idempotencyHeader] : [])],
      ...(route.body && { requestBody: requestBody(route.body, toSchema) }),
      responses: {
        ...Object.fromEntries(Object.entries(route.answers).map(([status, answer]) => [status, response(answer, toSchema)])),
        ...Object.fromEntries([...route.errors, 500].map((status) => [String(status), { description: statusText[status] ?? 'an error', content: { 'application/json': { schema: errorRef } } }])),
      },
    }
    paths[path] = { ...paths[path], [route.method]: operation }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'syncmesh',
      version: info.version,
      description:
        'The REST API of a syncmesh node. Documents also sync over the y-websocket protocol at `ws://<node>/<document name>`; every node is a full replica, and admin writes on any node are forwarded to the Raft leader.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'the admin token (`--admin-token`, or `<data>/admin-token`)' },
        clientToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a client token (HS256 or EdDSA), where the node requires them; also accepted as `?token=`' },
      },
    },
  }
}

/** A route's path as OpenAPI writes it: `/v1/docs/{name}` for Hono's `/v1/docs/:name`. */
export const openApiPath = (honoPath: string): string => honoPath.replace(/:([A-Za-z]+)/g, '{$1}')

const idempotencyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'a retry with the same key (1 to 128 visible ASCII characters) is applied once, on any node',
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' },
}

function pathParameters(route: RouteDoc): JsonObject[] {
  return Object.entries(route.params ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } }))
}

function queryParameters(route: RouteDoc, toSchema: (schema: z.ZodType, io: 'input') => JsonObject): JsonObject[] {
  if (!route.query) return []
  return Object.entries(route.query.shape).map(([name, schema]) => {
    const field = schema as z.ZodType
    return { name, in: 'query', required: !field.safeParse(undefined).success, schema: toSchema(field, 'input') }
  })
}

function requestBody(body: NonNullable<RouteDoc['body']>, toSchema: (schema: z.ZodType, io: 'input') => JsonObject): JsonObject {
  if ('binary' in body) return { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream', description: body.binary } } } }
  return { required: !body.json.safeParse(undefined).success, content: { 'application/json': { schema: toSchema(body.json, 'input') } } }
}

function response(answer: Answer, toSchema: (schema: z.ZodType, io: 'output') => JsonObject): JsonObject {
  const content: JsonObject = {}
  if (answer.json) content['application/json'] = { schema: toSchema(answer.json, 'output') }
  for (const [type, description] of Object.entries(answer.content ?? {})) content[type] = { schema: { type: 'string', description } }
  return { description: answer.description, ...(Object.keys(content).length > 0 && { content }) }
}
