/** How a node keeps its peer links: sizes, deadlines and redial timing (tests shorten them). */
export const defaultPeerTuning = {
  /**
   * Largest frame sent or accepted. A channel whose messages can be larger splits them (replication: chunks of
   * TransferTuning.chunkBytes); a frame past it is dropped by the sender.
   */
  maxFrameBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
  /** A dial's whole handshake, connecting included. */
  handshakeTimeoutMs: 5_000,
  /** An inbound handshake, from the challenge to the hello. */
  inboundHandshakeTimeoutMs: 1_000,
  keepaliveIntervalMs: 5_000,
  /**
   * The delay before a redial doubles with every failed dial, from the first to the last of these (with
   * jitter: half to all of it). The last is low so that a healed partition is noticed within a few tenths of
   * a second — both ends dial, the first to get through links them — while a dead peer costs a dial that is
   * refused at once, about three times a second: nothing next to a cluster's heartbeats.
   */
  redialMinMs: 50,
  redialMaxMs: 400,
  /**
   * Inbound connections without a member's ticket still in their handshake, in all and from one address;
   * more are answered 503 before the upgrade (see HandshakeSlots).
   */
  maxPendingHandshakes: 64,
  maxPendingHandshakesPerAddress: 8,
  /** How long a closed link's socket waits for the other end to answer the close before it is dropped. */
  closeGraceMs: 1_000,
}

export type PeerTuning = typeof defaultPeerTuning

/** Exponential backoff with jitter, so that the two ends of a pair do not keep dialing in lockstep. */
export function redialDelayMs(failedDials: number, tuning: PeerTuning): number {
  const ceilingMs = Math.min(tuning.redialMaxMs, tuning.redialMinMs * 2 ** failedDials)
  return ceilingMs / 2 + Math.random() * (ceilingMs / 2)
}
