// samples.jsonl: every sample appended and flushed to disk the moment it exists, so a crash
// or a kill -9 loses nothing that was measured.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Sample } from '../contracts/report.js';

export class SampleSink {
  private fd: number;
  readonly samples: Sample[] = [];

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  write(sample: Sample): void {
    this.samples.push(sample);
    if (this.fd >= 0) writeSync(this.fd, JSON.stringify(sample) + '\n');
  }

  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }
}
