/**
 * Every WebSocket close code a node sends, to clients and to peers, and the one rule for close reasons.
 * The client SDK imports this table too, so both ends read a code the same way.
 *
 * The stock y-websocket provider (3.x) stops reconnecting on 4400–4499, so those codes are kept for
 * errors a retry would repeat — except 4401, after which a client fetches a fresh token and reconnects, and
 * 4421, after which it connects to another node.
 * Conditions that a reconnect fixes use standard codes (1001, 1011, 1013).
 */
export const CloseCode = {
  goingAway: 1001,
  internalError: 1011,
  /** Reconnect later, with backoff: the client read too slowly, or passed a rate or budget. */
  tryAgainLater: 1013,
  malformedMessage: 4400,
  /** The client token expired during the session: fetch a fresh one, then reconnect. */
  tokenExpired: 4401,
  /** The namespace's schema or read-only flag refuses the update, or the token allows reading only. */
  forbidden: 4403,
  invalidDocName: 4404,
  /** The document was deleted. */
  deleted: 4410,
  /** A frame passes the frame limit, or an update (or the document it would make) the namespace's limits. */
  tooLarge: 4413,
  /**
   * This node was removed from the cluster: connect to another member. 421 Misdirected Request is HTTP's "ask
   * another server"; the SDK fails over on it, while a stock provider, which knows only this node, stops.
   */
  nodeRemoved: 4421,
  invalidUpdate: 4422,
} as const

/** Close codes of peer links. The 44xx codes borrow the meaning of the HTTP status they mirror. */
export const PeerCloseCode = {
  /** The peer left this node's peer set. */
  removed: 1000,
  goingAway: 1001,
  malformedFrame: 4400,
  authenticationFailed: 4401,
  notAMember: 4403,
  handshakeTimeout: 4408,
  /** Both nodes dialed; the other link of the pair is kept. */
  duplicateLink: 4409,
  /** The dialer reached a node other than the one it meant (a stale URL or a wrong `--peer-route`). */
  misdirected: 4421,
  /** The dialer claims the acceptor's own id: two nodes share an id. */
  duplicateId: 4422,
} as const

/** Whether a client should give up on this document after a close with `code`: another try, on any node, fails the same way. */
export const isPermanentClose = (code: number): boolean =>
  code >= 4400 && code <= 4499 && code !== CloseCode.tokenExpired && code !== CloseCode.nodeRemoved

/** Peer refusals that a retry repeats until an operator or a membership change intervenes. */
export const isPeerRefusal = (code: number): boolean =>
  code === PeerCloseCode.authenticationFailed ||
  code === PeerCloseCode.notAMember ||
  code === PeerCloseCode.misdirected ||
  code === PeerCloseCode.duplicateId

/** Longest close reason: a close frame's payload is at most 125 bytes, two of them the code. */
export const maxCloseReasonBytes = 123

/** `text` cut to fit a close frame, on a character boundary, marked with `...` where it was cut. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.byteLength <= maxCloseReasonBytes) return text
  return bytes.subarray(0, maxCloseReasonBytes - 3).toString('utf8').replace(/\uFFFD$/, '') + '...'
}
