// When to restart a crashed server: exponential backoff with a cap, reset after a stable run, and
// one notice to the user per session. No `vscode` import: unit tested in plain Node. Not thread-safe
// (the extension host is single-threaded).

export interface BackoffOptions {
  initialMs: number;  // delay before the first restart
  maxMs: number;      // the delay doubles per crash up to this
  stableMs: number;   // a server that ran this long before crashing starts the sequence again
}

export const kDefaultBackoff: BackoffOptions = { initialMs: 1000, maxMs: 30000, stableMs: 60000 };

export interface CrashDecision {
  delayMs: number;  // wait this long, then restart
  attempt: number;  // 1 for the first crash of a sequence
  notify: boolean;  // true once per session: tell the user (later crashes only update the status)
}

export class RestartPolicy {
  private attempt_ = 0;
  private startedAt_: number | undefined;
  private notified_ = false;

  constructor(
    private options_: BackoffOptions = kDefaultBackoff,
    private readonly now_: () => number = Date.now,
  ) {}

  get options(): BackoffOptions {
    return this.options_;
  }

  set options(options: BackoffOptions) {
    this.options_ = options;
  }

  // Consecutive crashes so far (0 after a stable run or a reset).
  get crashes(): number {
    return this.attempt_;
  }

  // The server is up (initialize answered).
  started(): void {
    this.startedAt_ = this.now_();
  }

  // The server went away without being asked to.
  crashed(): CrashDecision {
    const t = this.now_();
    if (this.startedAt_ !== undefined && t - this.startedAt_ >= this.options_.stableMs) this.attempt_ = 0;
    this.startedAt_ = undefined;
    const delayMs = Math.min(this.options_.maxMs, this.options_.initialMs * 2 ** Math.min(this.attempt_, 30));
    this.attempt_++;
    const notify = !this.notified_;
    this.notified_ = true;
    return { delayMs, attempt: this.attempt_, notify };
  }

  // The user restarted the server by hand: start over, and tell them again if it crashes.
  reset(): void {
    this.attempt_ = 0;
    this.startedAt_ = undefined;
    this.notified_ = false;
  }
}
