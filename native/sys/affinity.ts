// CPU placement of the calling thread (sched_setaffinity on tid 0), for engine workers.
import koffi from 'koffi';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { errnoName } from '../errors.js';
import { errno } from './libc.js';

let setaffinity: ((pid: number, size: number, mask: Buffer) => number) | undefined;

/** Pins the calling thread (not the process: Node's helper threads stay where they are). */
export function pinThisThread(cpu: number): void {
  setaffinity ??= koffi.load('libc.so.6').func('int sched_setaffinity(int pid, size_t size, void *mask)') as (pid: number, size: number, mask: Buffer) => number;
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (setaffinity(0, mask.length, mask) !== 0) {
    throw new LabError({ code: errnoName(errno()), message: `cpu: sched_setaffinity to CPU ${cpu} failed with ${errnoName(errno())}`, field: 'cpu', hint: 'nproc lists the CPUs this process may use' });
  }
}
