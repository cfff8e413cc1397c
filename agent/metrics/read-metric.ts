/**
 * A Prometheus metric whose samples are read from elsewhere at scrape time. The agent's parts
 * already count what operators want (membership.stats(), the datagram channel, the
 * replicator); copying every increment into prom-client counters would cost on every probe
 * and datagram, while reading them costs once per scrape, flat in the cluster's size.
 */

import type { Metric } from 'prom-client'

/** One sample: labels and value. */
export interface Sample { labels?: Record<string, string | number>, value: number }

/** Prometheus metric types a read metric may declare. */
export type ReadMetricType = 'counter' | 'gauge'

/**
 * A metric the registry renders like its own: prom-client's Registry only asks a metric for
 * `name`, `type` and `get()`. (Its typings name only its four classes, hence the cast in
 * `asMetric`.)
 */
export class ReadMetric {
  readonly aggregator = 'sum'

  constructor (
    readonly name: string,
    readonly help: string,
    readonly type: ReadMetricType,
    private readonly read: () => Sample[] | Promise<Sample[]>
  ) {}

  /** The current samples (what the registry renders). */
  async get (): Promise<{ name: string, help: string, type: ReadMetricType, aggregator: string, values: Sample[] }> {
    const values = (await this.read()).filter(s => Number.isFinite(s.value))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** This metric as prom-client's Registry takes it. */
  asMetric (): Metric {
    return this as unknown as Metric
  }
}

/** A single unlabelled sample, or none when `value` is null (the part is absent). */
export function one (value: number | null | undefined): Sample[] {
  return value === null || value === undefined ? [] : [{ value }]
}
