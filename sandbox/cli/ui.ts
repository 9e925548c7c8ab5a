import ora, { type Ora } from 'ora';

/**
 * Colour and spinners only on a terminal: stderr is a TTY, NO_COLOR is unset (https://no-color.org)
 * and TERM is not `dumb`. Piped or redirected output is plain text, one line per outcome.
 */
export function useColour(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  warn(text: string): void;
  stop(): void;
}

/** A spinner on a colour terminal; otherwise nothing while it runs and one plain `ok:`/`error:`/`warning:` line at the end. */
export function progress(text: string): Progress {
  if (useColour()) {
    const spinner: Ora = ora({ text, stream: process.stderr }).start();
    return {
      update: (t) => void (spinner.text = t),
      succeed: (t) => void spinner.succeed(t),
      fail: (t) => void spinner.fail(t),
      warn: (t) => void spinner.warn(t),
      stop: () => void (spinner.isSpinning && spinner.stop()),
    };
  }
  const line = (prefix: string) => (t: string) => void process.stderr.write(`${prefix}: ${t}\n`);
  return { update: () => undefined, succeed: line('ok'), fail: line('error'), warn: line('warning'), stop: () => undefined };
}
