/** clusterctl entry point (bin/clusterctl.js imports the compiled file). */

import { createInterface } from 'node:readline/promises'
import { runCli } from './program.js'

/** Ask on the terminal (prompt on stderr, so stdout stays the command's output). */
async function confirm (question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) },
  env: process.env,
  stdoutIsTTY: process.stdout.isTTY,
  // A pty may report 0 columns: treat that as unknown.
  ...(process.stdout.columns > 0 ? { columns: process.stdout.columns } : {}),
  ...(process.stdin.isTTY ? { confirm } : {})
})
