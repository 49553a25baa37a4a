/** The origin of an update that came from another node, so that it is not sent on to the other peers. */
export class PeerOrigin {
  constructor(readonly peer: string) {}
}
