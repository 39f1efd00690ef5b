// A separate process for the maintenance tests: `runner DIR LEASE_MS` runs a maintenance runner
// until killed; `operation DIR [STEPS]` runs a slow operation. Both print `ready` once working.
import { openHiveStore } from '../../src/index.js'

const [mode, dataDir, leaseMs] = process.argv.slice(2)
const store = await openHiveStore({ dataDir: dataDir as string })
if (mode === 'runner') {
  const { MaintenanceRunner } = await import('../../src/index.js')
  const runner = new MaintenanceRunner(store, { tickMs: 20, leaseMs: Number(leaseMs), tasks: ['checkpoint'] })
  runner.start()
  const wait = setInterval(() => {
    if (runner.isLeader) {
      clearInterval(wait)
      process.stdout.write('ready\n')
    }
  }, 10)
} else {
  // `operation DIR [STEPS]`: forever, or STEPS steps and then a clean exit.
  const steps = process.argv[4] === undefined ? Number.POSITIVE_INFINITY : Number(process.argv[4])
  await store.operations.track('test.slow', async (progress) => {
    for (let done = 0; done < steps; done++) {
      progress({ phase: 'crawling', done, total: Number.isFinite(steps) ? steps : 1_000_000 })
      if (done === 3) process.stdout.write('ready\n')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
  await store.close()
}
