/**
 * A binary WebSocket message as a server writes it (RFC 6455 §5.2: FIN, opcode 2, no mask), framed once so that
 * the same bytes go to every socket of a broadcast.
 */
export interface FramedMessage {
  payload: Uint8Array
  /** Header and payload, as ws.send(payload) writes them. */
  wire: Buffer
}

export function frameBinary(payload: Uint8Array): FramedMessage {
  const length = payload.byteLength
  const headerBytes = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const wire = Buffer.allocUnsafe(headerBytes + length)
  wire[0] = 0x82
  if (headerBytes === 2) wire[1] = length
  else if (headerBytes === 4) {
    wire[1] = 126
    wire.writeUInt16BE(length, 2)
  } else {
    wire[1] = 127
    wire.writeBigUInt64BE(BigInt(length), 2)
  }
  wire.set(payload, headerBytes)
  return { payload, wire }
}
