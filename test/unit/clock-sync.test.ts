// What a host says of its clock, for latency across hosts: PTP only with a hardware clock, ptp4l
// and phc2sys; NTP is named but does not count.
import { describe, expect, it } from 'vitest';
import { describeClockSync } from '../../benchmarks/report/environment.js';

describe('describeClockSync', () => {
  it('PTP needs a PTP hardware clock, ptp4l and phc2sys', () => {
    expect(describeClockSync(['ptp0'], ['ptp4l', 'phc2sys', 'bash'])).toEqual({ ptp: true, detail: 'PTP-synchronised: PTP clocks /dev/ptp0; ptp4l running; phc2sys running' });
    expect(describeClockSync(['ptp0'], ['ptp4l']).ptp).toBe(false);
    expect(describeClockSync([], ['ptp4l', 'phc2sys']).ptp).toBe(false);
  });

  it('NTP is named, and is not PTP', () => {
    const c = describeClockSync([], ['chronyd', 'sshd']);
    expect(c.ptp).toBe(false);
    expect(c.detail).toBe('not PTP-synchronised: no PTP hardware clock (/dev/ptp*); ptp4l not running; phc2sys not running; chronyd running (NTP)');
  });
});
