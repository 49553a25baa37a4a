/**
 * WebSocket close codes the node uses toward clients. The stock y-websocket provider (3.x) stops
 * reconnecting on 4400–4499, so those codes are kept for errors a retry would repeat; conditions that
 * a reconnect fixes use standard codes.
 */
export const CloseCode = {
  goingAway: 1001,
  internalError: 1011,
  /** The client read too slowly; it should reconnect and resync. */
  tryAgainLater: 1013,
  malformedMessage: 4400,
  /** The namespace's schema or read-only flag refuses the update. */
  forbidden: 4403,
  invalidDocName: 4404,
  /** The document was deleted. */
  deleted: 4410,
  /** The update, or the document it would make, passes the namespace's limits. */
  tooLarge: 4413,
  invalidUpdate: 4422,
} as const
