/**
 * A message that does not match the wire contract. `field` is the path of
 * the offending field (e.g. "images.shape"); the message says what was
 * expected and what arrived.
 */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly field: string;
  readonly expected: string;
  readonly received: string;

  constructor(field: string, expected: string, received: string) {
    super(`${field}: expected ${expected}, got ${received}`);
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}
