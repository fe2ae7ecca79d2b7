// The netdev model: QEMU's Netdev union (qapi/net.json) declared once per driver in
// netdev/drivers.ts; from it validation with QEMU's messages, the -netdev argument (both
// ways), the QMP netdev_add arguments, and a description of the schema for the UI.
export {
  DRIVERS, NETDEV_TYPES, driverOf, isNetdevType, guestfwdOk, hostfwdProblem,
  type DriverDef, type Netdev, type NetdevOptions, type NetdevType, type Problem, type Rule,
} from './netdev/drivers.js';
export { type FieldSpec, type Integer, type QapiType } from './netdev/fields.js';
export { SocketAddressSchema, SOCKET_ADDRESS_TYPES, type SocketAddress } from './netdev/socket-address.js';
export { checkNetdev, driverFields, jsonText, validateNetdev, type NetdevCheck } from './netdev/validate.js';
export { formatNetdevArg, netdevArgs, parseNetdevArg, parseNetdevArgRaw, parseSize, splitParams } from './netdev/cmdline.js';
export { fromQmpArguments, toQmpArguments, type QmpNetdevArguments } from './netdev/qmp-args.js';
export { describeDriver, describeNetdevSchema, type DriverDescription, type NetdevSchemaDescription } from './netdev/describe.js';
