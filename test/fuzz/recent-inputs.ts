import type { FuzzInput } from './fuzz-input.js'

/** The last inputs sent, oldest first: what a failure report shows, and what minimizing replays one by one. */
export class RecentInputs {
  private readonly inputs: FuzzInput[] = []

  constructor(private readonly capacity: number) {}

  push(input: FuzzInput): void {
    this.inputs.push(input)
    if (this.inputs.length > this.capacity) this.inputs.shift()
  }

  snapshot(): FuzzInput[] {
    return [...this.inputs]
  }
}
