// The netdev schema as data, for the desktop app's forms and `xdplab netdev schema --json`:
// every driver with its members, QAPI types, ranges, defaults and doc comments.
import { DRIVERS, NETDEV_TYPES, driverOf, type DriverDef, type NetdevType } from './drivers.js';
import { objectSpec, type FieldSpec } from './fields.js';

/** A driver as DriverDef declares it, with its options as plain field descriptions. */
export type DriverDescription = Omit<DriverDef, 'type' | 'options' | 'rules'> & { type: NetdevType; options: FieldSpec[] };

export interface NetdevSchemaDescription {
  schemaVersion: 1;
  source: string;
  /** Members every netdev has. */
  base: FieldSpec[];
  drivers: DriverDescription[];
}

export function describeDriver(type: NetdevType): DriverDescription {
  const d = driverOf(type);
  return {
    type, struct: d.struct, description: d.description, since: d.since,
    ...(d.condition ? { condition: d.condition } : {}),
    syntax: d.syntax, requires: d.requires, options: objectSpec(d.options),
  };
}

export function describeNetdevSchema(): NetdevSchemaDescription {
  return {
    schemaVersion: 1,
    source: 'qapi/net.json of QEMU 8.2 (with af-xdp), plus the members QEMU 10.0 adds (stream reconnect-ms)',
    base: [
      { name: 'id', qapi: 'str', required: true, description: 'identifier for monitor commands.' },
      { name: 'type', qapi: 'enum', required: true, description: 'Specify the driver used for interpreting remaining arguments.', values: [...NETDEV_TYPES] },
    ],
    drivers: (Object.keys(DRIVERS) as NetdevType[]).map(describeDriver),
  };
}
