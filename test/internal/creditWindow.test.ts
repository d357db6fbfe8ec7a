import { assert, describe, it } from "@effect/vitest"
import { batchFrames, CreditWindow, defaults, utf8Length } from "../../src/internal/creditWindow.ts"
import { prng } from "../support/random.ts"

const encoder = new TextEncoder()
const bytes = (s: string) => encoder.encode(s).length
const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

describe("CreditWindow", () => {
  it("defaults to 32 frames in flight", () => {
    const window = new CreditWindow()
    assert.strictEqual(defaults.capacity, 32)
    assert.strictEqual(window.capacity, 32)
    assert.strictEqual(window.available, 32)
    assert.strictEqual(window.inFlight, 0)
  })

  it("grants exactly capacity credits, then refuses without side effects", () => {
    const window = new CreditWindow({ capacity: 3 })
    assert.isTrue(window.tryAcquire())
    assert.isTrue(window.tryAcquire())
    assert.isTrue(window.tryAcquire())
    assert.strictEqual(window.available, 0)
    assert.isFalse(window.tryAcquire())
    assert.isFalse(window.tryAcquire())
    assert.strictEqual(window.inFlight, 3)
  })

  it("release returns credits; acquiring works again", () => {
    const window = new CreditWindow({ capacity: 4 })
    for (let i = 0; i < 4; i++) window.tryAcquire()
    assert.strictEqual(window.release(3), 3)
    assert.strictEqual(window.inFlight, 1)
    assert.strictEqual(window.available, 3)
    assert.strictEqual(window.release(), 1, "release() releases one")
    assert.strictEqual(window.inFlight, 0)
    assert.isTrue(window.tryAcquire())
  })

  it("an acknowledgement beyond what is in flight creates no extra credit", () => {
    const window = new CreditWindow({ capacity: 2 })
    window.tryAcquire()
    assert.strictEqual(window.release(5), 1)
    assert.strictEqual(window.available, 2)
    assert.strictEqual(window.release(1), 0)
    assert.strictEqual(window.available, 2)
    assert.isTrue(window.tryAcquire() && window.tryAcquire())
    assert.isFalse(window.tryAcquire())
  })

  it("release(0) changes nothing; invalid counts throw", () => {
    const window = new CreditWindow({ capacity: 2 })
    window.tryAcquire()
    assert.strictEqual(window.release(0), 0)
    assert.strictEqual(window.inFlight, 1)
    assert.throws(() => window.release(-1), RangeError)
    assert.throws(() => window.release(1.5), RangeError)
    assert.throws(() => window.release(Number.NaN), RangeError)
    assert.strictEqual(window.inFlight, 1)
  })

  it("reset forgets what is in flight", () => {
    const window = new CreditWindow({ capacity: 1 })
    window.tryAcquire()
    assert.isFalse(window.tryAcquire())
    window.reset()
    assert.strictEqual(window.inFlight, 0)
    assert.isTrue(window.tryAcquire())
  })

  it("rejects invalid capacities", () => {
    assert.throws(() => new CreditWindow({ capacity: 0 }), RangeError)
    assert.throws(() => new CreditWindow({ capacity: 2.5 }), RangeError)
  })

  it("keeps 0 <= inFlight <= capacity under random acquire/release", () => {
    const random = prng(7)
    const window = new CreditWindow({ capacity: 5 })
    let model = 0
    for (let step = 0; step < 2_000; step++) {
      if (random() < 0.6) {
        assert.strictEqual(window.tryAcquire(), model < 5)
        if (model < 5) model++
      } else {
        const n = Math.floor(random() * 4)
        assert.strictEqual(window.release(n), Math.min(n, model))
        model -= Math.min(n, model)
      }
      assert.strictEqual(window.inFlight, model)
      assert.strictEqual(window.available, 5 - model)
    }
  })
})

describe("utf8Length", () => {
  it("counts UTF-8 bytes like TextEncoder", () => {
    for (const s of ["", "a", "hello", "é", "€", "日本語", "😀", "a😀b", "\u{10ffff}", "\u07ff\u0800"]) {
      assert.strictEqual(utf8Length(s), bytes(s), JSON.stringify(s))
    }
  })

  it("counts lone surrogates as the 3-byte replacement character", () => {
    for (const s of ["\ud800", "\udc00", "a\ud800", "\ud800a", "\udc00\ud800", "\ud83d\ud83d\ude00"]) {
      assert.strictEqual(utf8Length(s), bytes(s), JSON.stringify(s))
    }
  })

  it("agrees with TextEncoder on random strings", () => {
    const random = prng(11)
    for (let n = 0; n < 500; n++) {
      let s = ""
      const length = Math.floor(random() * 12)
      for (let i = 0; i < length; i++) {
        const pick = random()
        // Mix ASCII, 2- and 3-byte code units, and surrogates (paired or not).
        const unit =
          pick < 0.3 ? Math.floor(random() * 0x80)
          : pick < 0.5 ? 0x80 + Math.floor(random() * 0x780)
          : pick < 0.7 ? 0x800 + Math.floor(random() * 0xd000)
          : 0xd800 + Math.floor(random() * 0x800)
        s += String.fromCharCode(unit)
      }
      assert.strictEqual(utf8Length(s), bytes(s), JSON.stringify(s))
    }
  })
})

describe("batchFrames", () => {
  it("gives no batches for an empty queue", () => {
    assert.deepStrictEqual(batchFrames([], 100, 10), [])
  })

  it("packs by count", () => {
    assert.deepStrictEqual(batchFrames(["a", "b", "c", "d", "e"], 1_000, 2), [["a", "b"], ["c", "d"], ["e"]])
    assert.deepStrictEqual(batchFrames(["a", "b", "c"], 1_000, 1), [["a"], ["b"], ["c"]])
  })

  it("packs by bytes, a batch filling the limit exactly", () => {
    assert.deepStrictEqual(batchFrames(["aa", "bb", "cc", "d"], 4, 10), [["aa", "bb"], ["cc", "d"]])
    assert.deepStrictEqual(batchFrames(["aaa", "bb"], 4, 10), [["aaa"], ["bb"]])
    assert.deepStrictEqual(batchFrames(["aaaa"], 4, 10), [["aaaa"]])
  })

  it("measures multi-byte characters in bytes, not code units", () => {
    // "€" is 1 code unit but 3 bytes.
    assert.deepStrictEqual(batchFrames(["€", "€", "a"], 4, 10), [["€"], ["€", "a"]])
  })

  it("gives an oversized message a batch of its own, keeping the order", () => {
    const big = "x".repeat(50)
    assert.deepStrictEqual(batchFrames(["a", "b", big, "c", "d"], 10, 10), [["a", "b"], [big], ["c", "d"]])
    assert.deepStrictEqual(batchFrames([big, "a"], 10, 10), [[big], ["a"]])
    assert.deepStrictEqual(batchFrames(["a", big], 10, 10), [["a"], [big]])
    assert.deepStrictEqual(batchFrames([big, big], 10, 10), [[big], [big]])
  })

  it("counts empty messages against the count limit only", () => {
    assert.deepStrictEqual(batchFrames(["", "", ""], 1, 2), [["", ""], [""]])
  })

  it("uses a custom measure", () => {
    const jsonSize = (s: string) => utf8Length(JSON.stringify(s)) + 1
    // each "ab" costs 5 bytes ("ab" with quotes, plus a comma)
    assert.deepStrictEqual(batchFrames(["ab", "ab", "ab"], 10, 10, jsonSize), [["ab", "ab"], ["ab"]])
  })

  it("does not modify the queue", () => {
    const queue = ["a", "b", "c"]
    batchFrames(queue, 1, 1)
    assert.deepStrictEqual(queue, ["a", "b", "c"])
  })

  it("rejects invalid limits", () => {
    assert.throws(() => batchFrames(["a"], 0, 1), RangeError)
    assert.throws(() => batchFrames(["a"], 10, 0), RangeError)
    assert.throws(() => batchFrames(["a"], 10, 1.5), RangeError)
  })

  it("keeps order, respects both limits and packs greedily on random queues", () => {
    const random = prng(3)
    const alphabet = ["a", "é", "€", "😀"]
    for (let run = 0; run < 300; run++) {
      const maxFrameBytes = 1 + Math.floor(random() * 40)
      const maxPerBatch = 1 + Math.floor(random() * 6)
      const queue = Array.from({ length: Math.floor(random() * 30) }, () => {
        let s = ""
        const length = Math.floor(random() * 12)
        for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * alphabet.length)]
        return s
      })
      const batches = batchFrames(queue, maxFrameBytes, maxPerBatch)
      assert.deepStrictEqual(batches.flat(), queue, "order and content are kept")
      for (const [i, batch] of batches.entries()) {
        assert.isAbove(batch.length, 0)
        assert.isAtMost(batch.length, maxPerBatch)
        const size = sum(batch.map(bytes))
        if (batch.length > 1) assert.isAtMost(size, maxFrameBytes)
        const next = batches[i + 1]
        if (next !== undefined) {
          const first = next[0] ?? ""
          assert.isTrue(
            batch.length === maxPerBatch || size + bytes(first) > maxFrameBytes,
            "a batch is only closed when the next message does not fit"
          )
        }
      }
    }
  })
})
