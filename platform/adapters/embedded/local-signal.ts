import { EventEmitter } from 'node:events';
import type { OutcomeSignal, OutcomeWatch } from '../../../core/ports/signal.js';

/** In-process {@link OutcomeSignal} for the embedded mode (every stage runs in one process). */
export class LocalOutcomeSignal implements OutcomeSignal {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  watch(requestId: string): OutcomeWatch {
    return watchEmitter(this.#emitter, requestId);
  }

  async notify(requestId: string): Promise<void> {
    this.#emitter.emit(requestId);
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

/** A watch that is armed at creation, so a signal between `watch()` and `wait()` is not lost. */
export function watchEmitter(emitter: EventEmitter, name: string): OutcomeWatch {
  let fired = false;
  let resolveWait: ((value: boolean) => void) | undefined;
  const listener = () => {
    fired = true;
    resolveWait?.(true);
  };
  emitter.on(name, listener);
  return {
    wait: (timeoutMs: number) =>
      new Promise<boolean>((resolve) => {
        if (fired) {
          fired = false;
          resolve(true);
          return;
        }
        const timer = setTimeout(() => {
          resolveWait = undefined;
          resolve(false);
        }, timeoutMs);
        resolveWait = (value) => {
          clearTimeout(timer);
          resolveWait = undefined;
          fired = false;
          resolve(value);
        };
      }),
    dispose: () => {
      emitter.off(name, listener);
      resolveWait?.(false);
    },
  };
}
