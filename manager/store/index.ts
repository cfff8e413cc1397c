/** The manager's persistence adapter. */
export { ManagerStore, type ManagerStoreComponents, type ManagerStoreInit } from './manager-store.js'
export type { ConfigStore, JobStore, NodeStore } from './store-interfaces.js'
export type * from './types.js'
export { validateImport } from './restore.js'
export { META_KEYS } from './keys.js'
