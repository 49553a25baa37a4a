import type { Rng } from '../sim/rng.js'
import type { YjsCorpus } from './yjs-corpus.js'

/** The node under fuzz: always on 127.0.0.1. */
export interface Target {
  port: number
  url: string
  nodeId: string
  adminToken: string
  clusterSecret: string
  /** The member id the fuzzer's peer connections authenticate as. */
  peerId: string
}

export const edgeNames = ['ws', 'ws-wire', 'raw-http', 'peer', 'rest'] as const
export type EdgeName = (typeof edgeNames)[number]

/**
 * One self-contained input: made in full from the PRNG before it is sent, so that `describe` says exactly
 * what went out and a seed makes the same inputs again, whatever the node answered.
 */
export interface FuzzInput {
  edge: EdgeName
  describe: string
  send(target: Target): Promise<void>
}

export type InputGenerator = (rng: Rng, corpus: YjsCorpus) => FuzzInput

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
