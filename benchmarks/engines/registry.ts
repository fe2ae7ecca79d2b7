// Every forwarding engine, by name, as testpmd lists its forwarding modes: adding an engine is
// one file (implementing Engine) and one line here (and its name in contracts/datapath.ts).
import type { EngineName } from '../contracts/datapath.js';
import type { Engine } from './engine.js';
import { IoEngine, MacSwapEngine } from './io.js';
import { RxOnlyEngine } from './rxonly.js';
import { TxOnlyEngine } from './txonly.js';

const ENGINES: Record<EngineName, () => Engine> = {
  txonly: () => new TxOnlyEngine(),
  rxonly: () => new RxOnlyEngine(),
  io: () => new IoEngine(),
  macswap: () => new MacSwapEngine(),
};

export function createEngine(name: EngineName): Engine {
  return ENGINES[name]();
}
