/**
 * A password or other secret. It never prints itself: String(), JSON and
 * util.inspect all give "***", so a secret that slips into a log line, an
 * error message or a JSON dump stays hidden. Call reveal() only at the edge
 * that really needs the value (the mysql2 connect options, for example).
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get isEmpty(): boolean {
    return this.#value.length === 0;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(***)';
  }
}
