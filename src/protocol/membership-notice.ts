/**
 * What a member tells a peer about the peer's own membership, on the membership channel. One kind so far:
 * "you were removed", for a removed node that missed the committed removal (it was cut off or stopped when
 * the removal committed, and the leader no longer sends it the log).
 */
export type MembershipNotice = { type: 'removed' }

const removedType = 0

export class MalformedMembershipNoticeError extends Error {
  override name = 'MalformedMembershipNoticeError'
}

export function encodeMembershipNotice(notice: MembershipNotice): Uint8Array {
  switch (notice.type) {
    case 'removed':
      return Uint8Array.of(removedType)
  }
}

export function decodeMembershipNotice(payload: Uint8Array): MembershipNotice {
  if (payload.byteLength === 1 && payload[0] === removedType) return { type: 'removed' }
  throw new MalformedMembershipNoticeError(`not a membership notice (${payload.byteLength} bytes)`)
}
