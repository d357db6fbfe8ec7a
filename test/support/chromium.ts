/**
 * The Chromium the browser tests and bench:media drive (Debian's `chromium`, installed by
 * `.ci/run`), and the flags every launch uses.
 */
import { existsSync } from "node:fs"

export const CHROMIUM = "/usr/bin/chromium"
export const hasChromium = existsSync(CHROMIUM)

/** Flags for every launch: a closed network, and plain host candidates werift can reach. */
export const launchArgs: ReadonlyArray<string> = [
  "--no-sandbox",
  // the closed network: no background traffic to Google's hosts
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-gpu",
  // plain host candidates instead of mDNS `.local` names, which werift cannot resolve
  // without multicast DNS (and which would send multicast queries off the machine)
  "--disable-features=WebRtcHideLocalIpsWithMdns"
]

/** `launchArgs` plus a fake camera and microphone, granted without a prompt, and autoplay. */
export const mediaLaunchArgs: ReadonlyArray<string> = [
  ...launchArgs,
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--autoplay-policy=no-user-gesture-required"
]

/** How the tests wait for a page state: at most 30 s, polled every 50 ms. */
export const WAIT = { timeout: 30_000, polling: 50 } as const
