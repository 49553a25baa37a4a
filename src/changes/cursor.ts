/** A position in one node's change feed: after the event numbered `seq` of the log `logId`. */
export interface ChangeCursor {
  logId: string
  seq: number
}

const cursorPattern = /^([0-9a-f]{8})-(0|[1-9][0-9]{0,15})$/

/** The cursor as clients see it, `<logId>-<seq>`; it is also the event's SSE id. */
export function formatCursor({ logId, seq }: ChangeCursor): string {
  return `${logId}-${seq}`
}

/** Reads a cursor a client sent; null for anything that is not one. Never throws. */
export function parseCursor(text: string): ChangeCursor | null {
  const match = cursorPattern.exec(text)
  if (!match) return null
  const seq = Number(match[2])
  return Number.isSafeInteger(seq) ? { logId: match[1]!, seq } : null
}
