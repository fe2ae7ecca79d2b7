// Two namespaces joined by a veth pair, created by the test and removed after it.
import { Lab } from '../../benchmarks/lab/lab.js';

export interface VethLab { lab: Lab; nsA: string; nsB: string; ifA: string; ifB: string }

export function createVethLab(options: { channels?: number } = {}): VethLab {
  const lab = new Lab('test');
  try {
    const nsA = lab.addNetns('a');
    const nsB = lab.addNetns('b');
    const [ifA, ifB] = lab.addVethPair({ netns: nsA, suffix: 'a' }, { netns: nsB, suffix: 'b' });
    if (options.channels) {
      lab.setChannels(nsA, ifA, options.channels);
      lab.setChannels(nsB, ifB, options.channels);
    }
    return { lab, nsA, nsB, ifA, ifB };
  } catch (err) {
    lab.close();
    throw err;
  }
}
