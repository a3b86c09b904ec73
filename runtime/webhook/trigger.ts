/**
 * PollTrigger: turns any number of "poll now" requests into at most one poll in flight plus one
 * queued. A request while a poll runs queues exactly one more (so a push that landed during the
 * running poll is still seen); further requests join that queued one.
 */
export type TriggerResult = 'started' | 'queued' | 'coalesced';

export class PollTrigger {
  readonly #poll: () => Promise<unknown>;
  readonly #onError: (err: unknown) => void;
  #inFlight = false;
  #queued = false;
  #idle: (() => void)[] = [];

  /** `poll` runs one poll and settles when it is over; its errors go to `onError`. */
  constructor(poll: () => Promise<unknown>, onError: (err: unknown) => void = () => undefined) {
    this.#poll = poll;
    this.#onError = onError;
  }

  trigger(): TriggerResult {
    if (!this.#inFlight) {
      this.#run();
      return 'started';
    }
    if (!this.#queued) {
      this.#queued = true;
      return 'queued';
    }
    return 'coalesced';
  }

  /** True while a poll runs. */
  get busy(): boolean {
    return this.#inFlight;
  }

  /** Resolves once no poll runs and none is queued (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#inFlight) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #run(): void {
    this.#inFlight = true;
    // Called synchronously (the poll has started when trigger() returns); a throw becomes a rejection.
    void new Promise<unknown>((resolve) => resolve(this.#poll())).then(
      () => this.#done(),
      (err: unknown) => {
        this.#onError(err);
        this.#done();
      },
    );
  }

  #done(): void {
    this.#inFlight = false;
    if (this.#queued) {
      this.#queued = false;
      this.#run();
      return;
    }
    for (const r of this.#idle.splice(0)) r();
  }
}
