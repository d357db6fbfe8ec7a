/**
 * Machine-wide CPU accounting for bench/server.ts: how much CPU the whole machine spent
 * during a window, so CPU used by processes that are not part of the bench (other test
 * runs on a shared 2-core machine) can be reported next to the figures it distorts.
 */
import { readFileSync } from "node:fs"

interface Busy {
  /** user + nice + system seconds: what processes are charged with */
  readonly task: number
  /** irq + softirq seconds (loopback TCP work is largely here, charged to no process) */
  readonly irq: number
  /** seconds the hypervisor ran something else */
  readonly steal: number
}

/** CPU seconds of the whole machine since boot (all cores), or undefined off Linux. */
export const machineBusy = (): Busy | undefined => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? ""
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks)
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
    return { task: (user + nice + system) / 100, irq: (irq + softirq) / 100, steal: steal / 100 }
  } catch {
    return undefined
  }
}

export interface MachineWindow {
  /** process CPU seconds in the window not used by the bench's processes */
  readonly foreign: number
  /** all process CPU seconds in the window */
  readonly total: number
  readonly irq: number
  readonly steal: number
}

/** Starts a window; call the result with the CPU seconds the bench's own processes used. */
export const machineWindow = (): ((ours: number) => MachineWindow | undefined) => {
  const start = machineBusy()
  const self0 = process.cpuUsage()
  return (ours) => {
    const end = machineBusy()
    if (start === undefined || end === undefined) return undefined
    const self = process.cpuUsage(self0)
    const total = end.task - start.task
    return {
      total,
      foreign: Math.max(0, total - ours - (self.user + self.system) / 1e6),
      irq: end.irq - start.irq,
      steal: end.steal - start.steal
    }
  }
}
