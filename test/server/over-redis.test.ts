/**
 * The server suites again, every server over the Redis registry (a redis-server of this
 * file's own): protocol, rejections, discovery, identity, rate limits, the hostile-client
 * limits and the PeerPigeon 1.x client.
 */
import { afterAll, beforeAll, beforeEach } from "vitest"
import { useRedisForServers } from "../support/redis.ts"
import { suiteOptions } from "../support/server.ts"
import "./protocol.test.ts"
import "./discovery.test.ts"
import "./identity.test.ts"
import "./legacy-client.test.ts"
import "./lifecycle.test.ts"
import "../adversarial/server.test.ts"
import "../adversarial/server.property.test.ts"

useRedisForServers({ afterAll, beforeAll, beforeEach }, suiteOptions)
