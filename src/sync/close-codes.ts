/** WebSocket close codes the node uses toward clients, with the reason text sent beside each. */
export const CloseCode = {
  goingAway: 1001,
  messageTooBig: 1009,
  internalError: 1011,
  malformedMessage: 4400,
  invalidDocName: 4404,
  invalidUpdate: 4422,
  tooSlow: 4429,
} as const
