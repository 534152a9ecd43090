// Time-ordered callbacks with a single pending timer. A simulated reply schedules dozens of events
// (words, audio frames); one timer per agenda instead of one per event keeps 500+ sessions cheap.
import { performance } from 'node:perf_hooks';

interface Item {
  at: number;
  seq: number;
  fn: () => void;
}

export class Agenda {
  private items: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private seq = 0;
  private running = false;

  /** Runs `fn` at `at` (performance.now() milliseconds); events at the same time keep insertion order. */
  at(at: number, fn: () => void): void {
    const item: Item = { at, seq: this.seq++, fn };
    // Insert keeping order: usually appended, so scan from the end.
    let i = this.items.length;
    while (i > 0 && this.items[i - 1]!.at > at) i--;
    this.items.splice(i, 0, item);
    if (!this.running) this.arm();
  }

  after(delayMs: number, fn: () => void): void {
    this.at(performance.now() + delayMs, fn);
  }

  clear(): void {
    this.items = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  get size(): number {
    return this.items.length;
  }

  private arm(): void {
    const next = this.items[0];
    if (next === undefined) return;
    if (this.timer !== undefined && this.timerAt <= next.at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = next.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.at - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.running = true;
    try {
      // 1 ms of slack: setTimeout may fire a hair early relative to performance.now().
      while (this.items.length > 0 && this.items[0]!.at <= performance.now() + 1) {
        const item = this.items.shift()!;
        item.fn();
      }
    } finally {
      this.running = false;
      this.arm();
    }
  }
}
