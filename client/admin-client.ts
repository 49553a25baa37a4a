import type { InferRequestType } from 'hono/client'
import type { DeliveryStatus } from '../src/storage/webhook-storage.js'
import type { deliveryScopes } from '../src/webhooks/delivery-listing.js'
import { jsonOf, nodeApi, pathParam, type NodeApiClient, type NodeApiOptions, type TokenSource } from './node-api.js'

export interface AdminClientOptions extends NodeApiOptions {
  /** The cluster's admin token (`--admin-token`). */
  token: TokenSource
}

/** Per write: a retry with the same key is applied once, even across a change of leader. */
export interface WriteOptions {
  idempotencyKey?: string
}

type Api = NodeApiClient['v1']
export type MemberInput = InferRequestType<Api['cluster']['members']['$post']>['json']
export type NamespaceSpec = InferRequestType<Api['namespaces'][':ns']['$put']>['json']
export type WebhookSpec = InferRequestType<Api['webhooks']['$post']>['json']

export interface DeliveriesQuery {
  status?: DeliveryStatus
  limit?: number
  scope?: (typeof deliveryScopes)[number]
}

const writeInit = (options: WriteOptions) =>
  options.idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': options.idempotencyKey } }

/**
 * The admin REST API (cluster membership, leadership, namespaces, webhooks, deletions), with request and answer types
 * taken from the node's Hono app. Any node will do: followers forward writes to the leader.
 * Non-2xx answers throw SyncmeshApiError; `api` is the underlying `hc` client, for every route.
 */
export function createAdminClient(options: AdminClientOptions) {
  const api = nodeApi(options)
  return {
    api,
    /** Members, leader, term and this node's replication state; `consistent` reads through the leader. */
    cluster: (query: { consistent?: boolean } = {}) =>
      jsonOf(api.v1.cluster.$get({ query: query.consistent ? { consistent: 'true' } : {} })),
    /** Adds a replica; `role: 'voter'` asks for one more voter, promoted once it has caught up. */
    addMember: (member: MemberInput, write: WriteOptions = {}) =>
      jsonOf(api.v1.cluster.members.$post({ json: member }, writeInit(write))),
    removeMember: (id: string, write: WriteOptions = {}) =>
      jsonOf(api.v1.cluster.members[':id'].$delete({ param: pathParam('id', id) }, writeInit(write))),
    /** Hands leadership to `to`, or to the most caught-up voter. */
    transferLeadership: (to?: string) => jsonOf(api.v1.cluster.leader.$post({ json: to === undefined ? {} : { to } })),
    namespaces: () => jsonOf(api.v1.namespaces.$get()),
    putNamespace: (name: string, spec: NamespaceSpec, write: WriteOptions = {}) =>
      jsonOf(api.v1.namespaces[':ns'].$put({ param: pathParam('ns', name), json: spec }, writeInit(write))),
    deleteNamespace: (name: string, write: WriteOptions = {}) =>
      jsonOf(api.v1.namespaces[':ns'].$delete({ param: pathParam('ns', name) }, writeInit(write))),
    /** Deletes a document everywhere, for good: its name is never written again. */
    deleteDoc: (name: string, write: WriteOptions = {}) =>
      jsonOf(api.v1.docs[':name'].$delete({ param: pathParam('name', name) }, writeInit(write))),
    /** Registered webhooks, without their secrets. */
    webhooks: () => jsonOf(api.v1.webhooks.$get()),
    /** Registers a webhook; the answer holds its signing secret, which no later answer shows. */
    addWebhook: (spec: WebhookSpec, write: WriteOptions = {}) => jsonOf(api.v1.webhooks.$post({ json: spec }, writeInit(write))),
    removeWebhook: (id: string, write: WriteOptions = {}) =>
      jsonOf(api.v1.webhooks[':id'].$delete({ param: pathParam('id', id) }, writeInit(write))),
    /** A webhook's recent deliveries on every reachable member (`scope: 'node'`: this node's), newest first. */
    webhookDeliveries: (id: string, { limit, ...query }: DeliveriesQuery = {}) =>
      jsonOf(
        api.v1.webhooks[':id'].deliveries.$get({
          param: pathParam('id', id),
          query: { ...query, ...(limit !== undefined && { limit: String(limit) }) },
        }),
      ),
  }
}

export type AdminClient = ReturnType<typeof createAdminClient>
export type ClusterOverview = Awaited<ReturnType<AdminClient['cluster']>>
export type WebhookList = Awaited<ReturnType<AdminClient['webhooks']>>
export type WebhookDeliveries = Awaited<ReturnType<AdminClient['webhookDeliveries']>>
