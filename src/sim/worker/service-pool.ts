// A simulated STT or TTS server's batch slots (moshi-server's batch_size). Unmute's backend asks for
// one slot per session (STT, held for the whole conversation) or per reply (TTS) and fails the
// session with 1011 when none is free. A pool can be shared by several in-process workers to model
// one STT server behind a fleet of backends.
export class ServicePool {
  readonly name: 'stt' | 'tts';
  capacity: number | null;
  /** Forced exhaustion (admin endpoint / tests): every request is refused while set. */
  atCapacity = false;
  private used = 0;

  constructor(name: 'stt' | 'tts', capacity: number | null) {
    this.name = name;
    this.capacity = capacity;
  }

  get inUse(): number {
    return this.used;
  }

  tryAcquire(): boolean {
    if (this.atCapacity) return false;
    if (this.capacity !== null && this.used >= this.capacity) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }
}
