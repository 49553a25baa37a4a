/**
 * The origin of an update that came from another node. Live updates are not sent on (their author pushed
 * them to every peer itself); what anti-entropy brought is (`relay`), once, to every other linked peer: a
 * node that was cut off then has its changes carried to the whole cluster by the first peer it reconciles
 * with, instead of reconciling with every peer in turn.
 */
export class PeerOrigin {
  constructor(
    readonly peer: string,
    readonly relay: boolean,
  ) {}
}
