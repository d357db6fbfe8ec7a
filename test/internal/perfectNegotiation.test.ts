import { assert, describe, it } from "@effect/vitest"
import { isPolite, mayOffer, onRemoteAnswer, onRemoteOffer, senderDirection, wireTrack } from "../../src/internal/perfectNegotiation.ts"

describe("perfect negotiation decisions", () => {
  const small = "1".padEnd(40, "0")
  const great = "f".padEnd(40, "0")

  it("the smaller id is polite, the greater (the link's initiator) impolite; exactly one per pair", () => {
    assert.isTrue(isPolite(small, great))
    assert.isFalse(isPolite(great, small))
  })

  it("an offer in stable is answered by either side", () => {
    assert.strictEqual(onRemoteOffer(true, "stable"), "answer")
    assert.strictEqual(onRemoteOffer(false, "stable"), "answer")
  })

  it("glare: the polite side rolls back and answers, the impolite side ignores", () => {
    assert.strictEqual(onRemoteOffer(true, "have-local-offer"), "rollback-and-answer")
    assert.strictEqual(onRemoteOffer(false, "have-local-offer"), "ignore")
  })

  it("an answer applies only while our offer is out", () => {
    assert.strictEqual(onRemoteAnswer("have-local-offer"), "apply")
    assert.strictEqual(onRemoteAnswer("stable"), "ignore")
    assert.strictEqual(onRemoteAnswer("have-remote-offer"), "ignore")
  })

  it("an offer goes out only when wanted and stable", () => {
    assert.isTrue(mayOffer(true, "stable"))
    assert.isFalse(mayOffer(false, "stable"))
    assert.isFalse(mayOffer(true, "have-local-offer"))
    assert.isFalse(mayOffer(true, "have-remote-offer"))
  })

  it("a stopped sender keeps receiving (recvonly), a published one sends and receives", () => {
    assert.strictEqual(senderDirection(true), "sendrecv")
    assert.strictEqual(senderDirection(false), "recvonly")
  })

  it("a muted or absent track puts nothing on the wire", () => {
    const track = { id: "t" }
    assert.strictEqual(wireTrack(track, true), track)
    assert.isNull(wireTrack(track, false))
    assert.isNull(wireTrack(undefined, true))
  })

  it("a simulated glare between the two roles ends with one offer/answer applied on each side", () => {
    // both sides made an offer; each gets the other's
    const polite = { state: "have-local-offer", offers: 1 }
    const impolite = { state: "have-local-offer", offers: 1 }
    assert.strictEqual(onRemoteOffer(false, impolite.state), "ignore")
    assert.strictEqual(onRemoteOffer(true, polite.state), "rollback-and-answer")
    polite.state = "stable" // rolled back, set the offer, answered
    assert.strictEqual(onRemoteAnswer(impolite.state), "apply")
    impolite.state = "stable"
    // the polite side still wants its change negotiated: it may offer now, and is answered
    assert.isTrue(mayOffer(true, polite.state))
    assert.strictEqual(onRemoteOffer(false, impolite.state), "answer")
  })
})
