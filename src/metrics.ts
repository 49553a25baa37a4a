import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Every metric a node exports, on a registry of its own so that several nodes can share a process. */
export function createMetrics() {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    connections: new Gauge({ name: 'syncmesh_connections', help: 'Open client WebSocket connections', registers }),
    loadedDocs: new Gauge({ name: 'syncmesh_loaded_docs', help: 'Documents held in memory', registers }),
    updatesApplied: new Counter({
      name: 'syncmesh_updates_applied_total',
      help: 'Updates made durable, from clients and REST',
      registers,
    }),
    bytesApplied: new Counter({ name: 'syncmesh_update_bytes_applied_total', help: 'Bytes of durable updates', registers }),
    updatesRejected: new Counter({
      name: 'syncmesh_updates_rejected_total',
      help: 'Updates refused before storage, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'syncmesh_lmdb_commit_seconds',
      help: 'Time from the start of a group commit until it is flushed to disk',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    commitBatchUpdates: new Histogram({
      name: 'syncmesh_lmdb_commit_batch_updates',
      help: 'Updates written per group commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers,
    }),
    compactions: new Counter({ name: 'syncmesh_compactions_total', help: 'Document logs folded into their base', registers }),
    evictions: new Counter({ name: 'syncmesh_evictions_total', help: 'Idle documents dropped from memory', registers }),
    slowClientsDropped: new Counter({
      name: 'syncmesh_slow_clients_disconnected_total',
      help: 'Connections closed because their send buffer passed the bound',
      registers,
    }),
    clientCloses: new Counter({
      name: 'syncmesh_client_closes_total',
      help: 'Client connections closed for passing a limit or budget, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
