/**
 * The cluster config: JSON values by key, read from the committed view. Every write records
 * its time and the writing manager's epoch beside the value, so a merge lets the higher epoch
 * win and keeps deletions (merge.ts). Part of the manager store (manager-store.ts).
 */
import { ClusterdError } from '../../protocol/errors.js'
import { configKey, configMetaKey } from './keys.js'
import type { ConfigMeta } from './merge.js'
import { clone, type StoreCore } from './store-core.js'

/** Config values, on the shared core. */
export class ConfigTable {
  constructor (private readonly core: StoreCore) {}

  /** See ManagerStore.getConfig. */
  async getConfig (key: string): Promise<unknown> {
    this.core.assertStarted()
    const value = this.core.committedConfig.get(key)
    return value === undefined ? undefined : clone(value)
  }

  /** See ManagerStore.setConfig. */
  async setConfig (key: string, value: unknown): Promise<void> {
    const core = this.core
    core.assertStarted()
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `invalid config key ${JSON.stringify(key)}`)
    }
    const text = value === undefined ? undefined : JSON.stringify(value)
    const copy = text === undefined ? undefined : JSON.parse(text)
    const meta: ConfigMeta = { at: core.now().toISOString(), ...(text === undefined ? { deleted: true } : {}), ...(core.epoch !== undefined ? { epoch: core.epoch } : {}) }
    await core.write(() => core.stage(
      [
        text === undefined ? { type: 'del', key: configKey(key) } : { type: 'put', key: configKey(key), value: text },
        { type: 'put', key: configMetaKey(key), value: JSON.stringify(meta) }
      ],
      () => { if (copy === undefined) core.committedConfig.delete(key); else core.committedConfig.set(key, copy) },
      undefined
    ))
  }

  /** See ManagerStore.allConfig. */
  async allConfig (): Promise<Record<string, unknown>> {
    this.core.assertStarted()
    return Object.fromEntries([...this.core.committedConfig.entries()].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => [k, clone(v)]))
  }

  /** See ManagerStore.peekConfig. */
  peekConfig (key: string): unknown {
    return this.core.committedConfig.get(key)
  }
}
