/** What a node tells of its link to one peer (GET /v1/cluster, metrics). */
export type LinkStateName = 'connected' | 'connecting' | 'down'

export interface LinkState {
  state: LinkStateName
  /** Epoch ms of the last change of `state`. */
  since: number
  /** Payload bytes sent and received on this peer's links, since it joined the peer set. */
  sentBytes: number
  receivedBytes: number
  /** Sends refused: no link, the queue bound, or a frame over maxFrameBytes. */
  droppedMessages: number
  /** Times a link came up after none was; one that keeps growing is a flapping link. */
  linksEstablished: number
  /** Bytes sent on the current link that the kernel has not taken yet. */
  queuedBytes: number
  /** Why the last established link to this peer closed. */
  lastCloseReason: string | null
  /** Why the last dial to this peer failed, until a link comes up. */
  lastDialError: string | null
}
