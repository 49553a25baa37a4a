import { createHmac } from 'node:crypto'

/**
 * The id and signing secret of the webhook a registration request creates, derived from the request's key with
 * the cluster secret: any node, the leader a request is forwarded to included, and any retry of the request with
 * the same Idempotency-Key, arrives at the same two — so a retry is answered with the webhook it created.
 */
export function webhookIdentity(clusterSecret: string, requestKey: string): { id: string; secret: string } {
  const derive = (purpose: string) => createHmac('sha256', clusterSecret).update(`syncmesh webhook ${purpose}\0${requestKey}`).digest()
  const id = `wh_${BigInt(`0x${derive('id').subarray(0, 13).toString('hex')}`).toString(36).padStart(20, '0').slice(-20)}`
  return { id, secret: `whsec_${derive('secret').toString('base64')}` }
}
