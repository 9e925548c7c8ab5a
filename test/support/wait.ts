import { isSettled, type Registration } from '../../core/domain/registration.js';
import type { Runtime } from '../../platform/runtime/runtime.js';

/** Waits (on the outcome signal, re-reading the store) until the registration is settled. */
export async function settled(rt: Runtime, requestId: string, timeoutMs = 30_000): Promise<Registration> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const watch = rt.adapters.signal.watch(requestId);
    try {
      const current = await rt.adapters.store.getRegistration(requestId);
      if (current && isSettled(current.status)) return current;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`registration ${requestId} not settled within ${timeoutMs} ms (status ${current?.status ?? 'missing'})`);
      await watch.wait(Math.min(left, 1000));
    } finally {
      watch.dispose();
    }
  }
}

/** Probes until `probe` yields a value (every 50 ms), for state that has no signal to wait on. */
export async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
