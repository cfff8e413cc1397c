/**
 * Manual and benchmark use of the test-host harness:
 *   node dist/test/harness/cli.js up N [--prefix P] [--no-verify]   start N persistent hosts
 *   node dist/test/harness/cli.js down [--prefix P]                 remove persistent/stale sets of P
 *   node dist/test/harness/cli.js list                              show reserved slots
 * Prints JSON on stdout. Hosts made by `up` outlive the command; sets owned by a running test
 * process are never touched by `down` (their owner tears them down).
 */
import { Command, InvalidArgumentError } from 'commander'
import { pino } from 'pino'
import { DEFAULT_PREFIX } from './constants.js'
import { TestHosts } from './hosts.js'
import { SetNames } from './net.js'
import { isStale, listSlots } from './state.js'
import { planForSet, sweep, teardown } from './teardown.js'

function parseCount (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('count must be a positive integer')
  return n
}

function print (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

const logger = pino({ level: process.env.CLUSTERD_TEST_LOG ?? 'warn' }, pino.destination(2))

const program = new Command('test-hosts')
  .description('Start and stop clusterd test hosts (network namespaces with their own sshd).')

program.command('up')
  .description('start N hosts that outlive this command; prints names, addresses and key paths')
  .argument('<count>', 'number of hosts', parseCount)
  .option('--prefix <prefix>', 'name stem of the set', DEFAULT_PREFIX)
  .option('--no-verify', 'skip the readiness ssh to each host')
  .action(async (count: number, opts: { prefix: string, verify: boolean }) => {
    const set = await TestHosts.create({ count, prefix: opts.prefix, persistent: true, verifySsh: opts.verify, logger })
    print(set.describe())
  })

program.command('down')
  .description('remove every persistent or stale set of the prefix, and orphan links/namespaces')
  .option('--prefix <prefix>', 'name stem of the set', DEFAULT_PREFIX)
  .action(async (opts: { prefix: string }) => {
    const removed: number[] = []
    const left: unknown[] = []
    for (const entry of listSlots()) {
      if (entry.owner?.prefix !== opts.prefix) continue
      if (!entry.owner.persistent && !isStale(entry)) continue
      const l = await teardown(planForSet(new SetNames(opts.prefix, entry.slot), { releaseSlot: true }), logger)
      removed.push(entry.slot)
      if (l.netns.length + l.links.length + l.pids.length > 0) left.push({ slot: entry.slot, ...l })
    }
    removed.push(...await sweep(opts.prefix, logger))
    print({ prefix: opts.prefix, removedSlots: [...new Set(removed)], left })
    if (left.length > 0) process.exitCode = 1
  })

program.command('list')
  .description('show reserved slots and their owners')
  .action(() => {
    print(listSlots().map(e => ({ ...e, stale: isStale(e) })))
  })

await program.parseAsync(process.argv)
