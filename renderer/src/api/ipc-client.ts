// LabApi through Electron: window.xdplab, which the preload exposes (call and on, nothing else).
// The preload rejects with a plain LabError object (contextBridge copies plain objects whole but
// strips an Error's own properties); here it becomes a LabClientError again.
import { LabClientError } from './errors.js';
import type { CommandArgs, CommandName, CommandResult, EventName, EventPayload, LabApi } from './types.js';

declare global {
  interface Window { xdplab?: LabApi }
}

export class IpcLabApi implements LabApi {
  constructor(private readonly bridge: LabApi) {}

  async call<C extends CommandName>(command: C, args: CommandArgs<C>): Promise<CommandResult<C>> {
    try {
      return await this.bridge.call(command, args);
    } catch (err) {
      throw LabClientError.from(err);
    }
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.bridge.on(event, listener);
  }
}
