/** The manager's persistence adapter. */
export { ManagerStore, type ManagerStoreComponents, type ManagerStoreInit } from './manager-store.js'
export type * from './types.js'
