import type { z } from 'zod'
import { namespaceSpecSchema, webhookSpecSchema } from '../../meta/commands.js'
import { deliveriesAnswer, deliveriesQuery } from '../../webhooks/delivery-listing.js'
import { addMemberBody, clusterQuery, transferBody } from '../admin-routes.js'
import { changesQuery } from '../change-routes.js'
import { docJsonQuery, docListQuery, docUpdateQuery } from '../doc-routes.js'
import { createVersionBody } from '../version-routes.js'
import * as answers from './answers.js'

export type Auth = 'none' | 'client' | 'admin'

/** A successful answer: JSON of a schema, other content types (each with a description), both, or neither. */
export interface Answer {
  description: string
  json?: z.ZodType
  content?: Record<string, string>
}

/** One route of the REST API, as the OpenAPI document describes it (see openapi-document.ts). */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete'
  /** As Hono writes it: `/v1/docs/:name`. */
  path: string
  summary: string
  description?: string
  tag: string
  /** `client`: a client token when the node requires them (or for documents outside public-read namespaces). */
  auth: Auth
  params?: Record<string, string>
  query?: z.ZodObject
  body?: { json: z.ZodType } | { binary: string }
  /** Takes an `Idempotency-Key` header. */
  idempotent?: boolean
  answers: Record<number, Answer>
  /** Statuses of error answers (the one error shape), beside 500. */
  errors: number[]
}

const docName = { name: 'the document name; its slashes plain (`team/notes`) or percent-encoded (`team%2Fnotes`)' }
const versionParams = { ...docName, id: 'the version id (`v_` and 20 hex digits)' }
const adminRead = [401, 403]
/** A metadata write: refused (400, 404, 409), or no leader or quorum within the control timeout (503). */
const adminWrite = [400, 401, 403, 404, 409, 503]
const binaryUpdate = { 'application/octet-stream': 'a Yjs update (v1 encoding)' }

export const routeCatalog: RouteDoc[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Liveness: the process answers',
    auth: 'none',
    answers: { 200: { description: 'alive', json: answers.healthAnswer } },
    errors: [],
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'Operations',
    summary: 'Readiness: whether the node should get traffic',
    description: '503 while it shuts down, after it was removed from the cluster, while its metadata is unavailable, or while a node started with --join is not a member yet.',
    auth: 'none',
    answers: { 200: { description: 'ready', json: answers.readyAnswer } },
    errors: [503],
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    auth: 'none',
    answers: { 200: { description: 'the text exposition format', content: { 'text/plain': 'Prometheus text format 0.0.4' } } },
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/endpoints',
    tag: 'Operations',
    summary: "Every member's URL",
    auth: 'none',
    answers: { 200: { description: 'the URLs clients may connect to', json: answers.endpointsAnswer } },
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/docs',
    tag: 'Documents',
    summary: 'List documents the caller may read, by name, a page at a time',
    auth: 'client',
    query: docListQuery,
    answers: { 200: { description: 'one page', json: answers.docListAnswer } },
    errors: [400, 401],
  },
  {
    method: 'get',
    path: '/v1/docs/:name',
    tag: 'Documents',
    summary: 'Read a document as JSON',
    description: '`types` names the kind of roots the document does not declare through its namespace (`body:text,meta:map`).',
    auth: 'client',
    params: docName,
    query: docJsonQuery,
    answers: { 200: { description: 'the document', json: answers.docJsonAnswer } },
    errors: [400, 401, 403, 404, 410],
  },
  {
    method: 'get',
    path: '/v1/docs/:name/update',
    tag: 'Documents',
    summary: 'Read a document as a Yjs update',
    description: 'With `sv` (a base64 state vector), only what that state lacks.',
    auth: 'client',
    params: docName,
    query: docUpdateQuery,
    answers: { 200: { description: 'the update', content: binaryUpdate } },
    errors: [400, 401, 403, 404, 410],
  },
  {
    method: 'post',
    path: '/v1/docs/:name/update',
    tag: 'Documents',
    summary: 'Apply a Yjs update',
    description: 'Answered once the update is durable on this node (and before it is forwarded to peers or clients).',
    auth: 'client',
    params: docName,
    body: { binary: 'a Yjs update (v1 encoding)' },
    answers: { 204: { description: 'durable' } },
    errors: [400, 401, 403, 410, 413, 503],
  },
  {
    method: 'get',
    path: '/v1/docs/:name/versions',
    tag: 'Versions',
    summary: "A document's versions",
    description: 'Named and automatic ones, newest first, as the retention of its namespace keeps them. Read access suffices.',
    auth: 'client',
    params: docName,
    answers: { 200: { description: 'its versions', json: answers.versionListAnswer } },
    errors: [400, 401, 403, 410],
  },
  {
    method: 'post',
    path: '/v1/docs/:name/versions',
    tag: 'Versions',
    summary: 'Make a named version of a document as it is now',
    description: 'Needs write access. Replicates to every node; the retention of the namespace may retire the oldest.',
    auth: 'client',
    params: docName,
    body: { json: createVersionBody },
    answers: { 201: { description: 'made', json: answers.versionAnswer } },
    errors: [400, 401, 403, 404, 409, 410, 413, 503],
  },
  {
    method: 'get',
    path: '/v1/docs/:name/versions/:id',
    tag: 'Versions',
    summary: 'Read a version as JSON',
    description: 'The same shape as reading the document; `types` as there.',
    auth: 'client',
    params: versionParams,
    query: docJsonQuery,
    answers: { 200: { description: 'the version', json: answers.docJsonAnswer } },
    errors: [400, 401, 403, 404, 410, 503],
  },
  {
    method: 'get',
    path: '/v1/docs/:name/versions/:id/update',
    tag: 'Versions',
    summary: 'Read a version as a Yjs update',
    auth: 'client',
    params: versionParams,
    answers: { 200: { description: 'the version', content: binaryUpdate } },
    errors: [400, 401, 403, 404, 410, 503],
  },
  {
    method: 'get',
    path: '/v1/docs/:name/versions/:id/diff/:to',
    tag: 'Versions',
    summary: 'What changed between two versions',
    description: 'Text inserted and deleted per text root, changed keys per map root, arrays and XML before and after.',
    auth: 'client',
    params: { ...versionParams, to: 'a later (or earlier) version id, or `current` for the document as it is now' },
    query: docJsonQuery,
    answers: { 200: { description: 'the changes', json: answers.versionDiffAnswer } },
    errors: [400, 401, 403, 404, 410, 503],
  },
  {
    method: 'post',
    path: '/v1/docs/:name/versions/:id/restore',
    tag: 'Versions',
    summary: 'Make the document equal to a version again',
    description:
      'By a new, ordinary update (it replicates and live clients get it at once; history is never rewritten). The state before is kept as an automatic version first, so a restore is undone by restoring that one. Needs write access; the namespace\'s schema applies.',
    auth: 'client',
    params: versionParams,
    query: docJsonQuery,
    answers: { 200: { description: 'restored', json: answers.versionRestoredAnswer } },
    errors: [400, 401, 403, 404, 410, 413, 503],
  },
  {
    method: 'delete',
    path: '/v1/docs/:name',
    tag: 'Documents',
    summary: 'Delete a document on every node, for good',
    description: 'A Raft command: its name is never written again, and live clients are closed with 4410.',
    auth: 'admin',
    params: docName,
    idempotent: true,
    answers: { 200: { description: 'committed', json: answers.nameDeletedAnswer } },
    errors: adminWrite,
  },
  {
    method: 'get',
    path: '/v1/changes',
    tag: 'Changes',
    summary: "This node's change feed",
    description:
      'A long-poll JSON page (`wait`), or Server-Sent Events with `Accept: text/event-stream` (each `id` is a cursor; `Last-Event-ID` resumes and wins over `since`). Only documents the caller may read. 410 with `oldestCursor` for a cursor past retention (`cursor_expired`) or of another feed (`cursor_unknown`).',
    auth: 'client',
    query: changesQuery,
    answers: {
      200: {
        description: 'events after the cursor',
        json: answers.changePageAnswer,
        content: { 'text/event-stream': 'with Accept: text/event-stream: an `updated` or `deleted` event per change (its `id` the cursor, its data the JSON event), an `error` event before the stream ends on a lost cursor, and a comment every 15 s' },
      },
    },
    errors: [400, 401, 410, 503],
  },
  {
    method: 'get',
    path: '/v1/cluster',
    tag: 'Cluster',
    summary: 'Members, leader, term and this node’s replication state',
    description: '`consistent=true` reads through the leader (ReadIndex).',
    auth: 'admin',
    query: clusterQuery,
    answers: { 200: { description: 'the cluster as this node sees it', json: answers.clusterAnswer } },
    errors: [400, 401, 403, 503],
  },
  {
    method: 'post',
    path: '/v1/cluster/members',
    tag: 'Cluster',
    summary: 'Add a member (a replica, or a voter once it has caught up)',
    auth: 'admin',
    body: { json: addMemberBody },
    idempotent: true,
    answers: { 201: { description: 'committed', json: answers.memberAnswer } },
    errors: adminWrite,
  },
  {
    method: 'delete',
    path: '/v1/cluster/members/:id',
    tag: 'Cluster',
    summary: 'Remove a member; it stops for good',
    auth: 'admin',
    params: { id: 'the member id' },
    idempotent: true,
    answers: { 200: { description: 'committed', json: answers.memberRemovedAnswer } },
    errors: adminWrite,
  },
  {
    method: 'post',
    path: '/v1/cluster/leader',
    tag: 'Cluster',
    summary: 'Hand leadership to a voter (`to`), or to the most caught-up one',
    auth: 'admin',
    body: { json: transferBody },
    answers: { 200: { description: 'the new leader', json: answers.leaderAnswer } },
    errors: adminWrite,
  },
  {
    method: 'get',
    path: '/v1/namespaces',
    tag: 'Namespaces',
    summary: 'Namespaces and their declarations',
    auth: 'admin',
    answers: { 200: { description: 'every namespace', json: answers.namespaceListAnswer } },
    errors: adminRead,
  },
  {
    method: 'put',
    path: '/v1/namespaces/:ns',
    tag: 'Namespaces',
    summary: "Declare a namespace's schema, limits, read-only and public read; replaces the whole declaration",
    auth: 'admin',
    params: { ns: 'the namespace: documents named `<ns>/…`' },
    body: { json: namespaceSpecSchema },
    idempotent: true,
    answers: { 200: { description: 'committed', json: answers.namespaceAnswer } },
    errors: adminWrite,
  },
  {
    method: 'delete',
    path: '/v1/namespaces/:ns',
    tag: 'Namespaces',
    summary: 'Delete a namespace declaration; its documents stay',
    auth: 'admin',
    params: { ns: 'the namespace' },
    idempotent: true,
    answers: { 200: { description: 'committed', json: answers.nameDeletedAnswer } },
    errors: adminWrite,
  },
  {
    method: 'get',
    path: '/v1/webhooks',
    tag: 'Webhooks',
    summary: 'Registered webhooks, without their secrets',
    auth: 'admin',
    answers: { 200: { description: 'every webhook', json: answers.webhookListAnswer } },
    errors: adminRead,
  },
  {
    method: 'post',
    path: '/v1/webhooks',
    tag: 'Webhooks',
    summary: 'Register a webhook; the answer holds its signing secret, shown only here',
    auth: 'admin',
    body: { json: webhookSpecSchema },
    idempotent: true,
    answers: { 201: { description: 'committed', json: answers.webhookCreatedAnswer } },
    errors: adminWrite,
  },
  {
    method: 'get',
    path: '/v1/webhooks/:id',
    tag: 'Webhooks',
    summary: 'One webhook, without its secret',
    auth: 'admin',
    params: { id: 'the webhook id, `wh_…`' },
    answers: { 200: { description: 'the webhook', json: answers.webhookAnswer } },
    errors: [400, 401, 403, 404],
  },
  {
    method: 'get',
    path: '/v1/webhooks/:id/deliveries',
    tag: 'Webhooks',
    summary: "A webhook's recent deliveries, newest first, from every member this node reaches",
    auth: 'admin',
    params: { id: 'the webhook id, `wh_…`' },
    query: deliveriesQuery,
    answers: { 200: { description: 'recent deliveries', json: deliveriesAnswer } },
    errors: [400, 401, 403, 404],
  },
  {
    method: 'delete',
    path: '/v1/webhooks/:id',
    tag: 'Webhooks',
    summary: 'Remove a webhook; nothing more is sent to it',
    auth: 'admin',
    params: { id: 'the webhook id, `wh_…`' },
    idempotent: true,
    answers: { 200: { description: 'committed', json: answers.webhookDeletedAnswer } },
    errors: adminWrite,
  },
  {
    method: 'get',
    path: '/v1/backup',
    tag: 'Operations',
    summary: "A consistent copy of this node's documents and metadata, taken while it serves",
    description: 'One at a time per node (409 `backup_in_progress`). `syncmesh restore --from FILE --data DIR` makes a node of it.',
    auth: 'admin',
    answers: { 200: { description: 'the backup file', content: { 'application/octet-stream': 'a syncmesh backup' } } },
    errors: [401, 403, 409],
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    tag: 'Operations',
    summary: 'This document',
    auth: 'none',
    answers: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': 'an OpenAPI 3.1 document' } } },
    errors: [],
  },
  ...page('/docs', 'This API’s interactive reference (Swagger UI)'),
  ...page('/', 'The collaborative editor demo'),
  ...page('/admin', 'The admin page'),
  {
    method: 'get',
    path: '/assets/:file',
    tag: 'Pages',
    summary: "The pages' scripts and styles, bundled at build time",
    auth: 'none',
    params: { file: 'a file name' },
    answers: { 200: { description: 'the file', content: { 'text/javascript': 'a script', 'text/css': 'a style sheet' } } },
    errors: [404],
  },
  {
    method: 'get',
    path: '/docs/assets/:file',
    tag: 'Pages',
    summary: "The reference page's scripts and styles (swagger-ui-dist)",
    auth: 'none',
    params: { file: 'a file name' },
    answers: { 200: { description: 'the file', content: { 'text/javascript': 'a script', 'text/css': 'a style sheet' } } },
    errors: [404],
  },
]

function page(path: string, summary: string): RouteDoc[] {
  return [{ method: 'get', path, tag: 'Pages', summary, auth: 'none', answers: { 200: { description: 'the page', content: { 'text/html': 'HTML' } } }, errors: [] }]
}
