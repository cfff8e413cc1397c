/** The manager's persistence adapter. */
export { ManagerStore, type ManagerStoreComponents, type ManagerStoreInit } from './manager-store.js'
export type { ConfigStore, JobStore, NodeStore, RevisionStore } from './store-interfaces.js'
export type { NewRevision } from './revision-table.js'
export type * from './types.js'
export { validateImport } from './restore.js'
export { META_KEYS } from './keys.js'
