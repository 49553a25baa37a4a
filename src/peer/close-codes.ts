/** WebSocket close codes of peer links. The 44xx codes borrow the meaning of the HTTP status they mirror. */
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

/** Refusals that a retry repeats until an operator or a membership change intervenes. */
export const isRefusal = (code: number): boolean =>
  code === PeerCloseCode.authenticationFailed ||
  code === PeerCloseCode.notAMember ||
  code === PeerCloseCode.misdirected ||
  code === PeerCloseCode.duplicateId

/** A close reason within the 123 bytes a close frame allows. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text, 'utf8')
  return bytes.byteLength <= 123 ? text : bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...'
}
