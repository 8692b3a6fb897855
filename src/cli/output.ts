import { painter, type Painter } from '../render/colors.js';

/** Colour only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function stdoutPainter(): Painter {
  const env = process.env;
  const enabled = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' ? true : Boolean(process.stdout.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  return painter(enabled);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
