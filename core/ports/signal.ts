/**
 * Wakes whoever waits for a registration to settle (the intake's synchronous answer). Best effort:
 * waiters also re-read the store on a slow timer, so a lost signal only costs latency.
 */
export interface OutcomeWatch {
  /** Resolves true when signalled, false on timeout. */
  wait(timeoutMs: number): Promise<boolean>;
  dispose(): void;
}

export interface OutcomeSignal {
  watch(requestId: string): OutcomeWatch;
  notify(requestId: string): Promise<void>;
  close(): Promise<void>;
}
