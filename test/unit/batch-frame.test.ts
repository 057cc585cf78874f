import test from "ava";
import fc from "fast-check";
import { MalformedMessageError } from "berth";
import { decodeBatch, encodeBatch, isBatch } from "../../framework/src/transport/nats/batchFrame.js";

test("property: batches round-trip", (t) => {
  const item = fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,12}$/), payload: fc.uint8Array({ maxLength: 300 }) });
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 40 }), (items) => {
        const bytes = encodeBatch(items);
        const back = decodeBatch(bytes, 1 << 20);
        return isBatch(bytes) && back.length === items.length && back.every((b, i) => b.id === items[i]?.id && Buffer.compare(Buffer.from(b.payload), Buffer.from(items[i]!.payload)) === 0);
      }),
    ),
  );
});

test("property: no truncation or corruption of a batch decodes into a different batch silently", (t) => {
  const good = encodeBatch([{ id: "a1", payload: new Uint8Array([1, 2, 3]) }, { id: "b2", payload: new Uint8Array(40) }]);
  for (let cut = 0; cut < good.length; cut++) {
    t.throws(() => decodeBatch(good.subarray(0, cut), 1 << 20), { instanceOf: MalformedMessageError }, `cut at ${cut}`);
  }
  t.throws(() => decodeBatch(Buffer.concat([good, Buffer.from([0])]), 1 << 20), { instanceOf: MalformedMessageError, message: /trailing/ });
  t.throws(() => decodeBatch(good, 10), { instanceOf: MalformedMessageError, message: /exceeds/ });
  const dotted = Buffer.from(good);
  dotted[7] = 0x2e; // a dot in an id would change the reply subject's meaning
  t.throws(() => decodeBatch(dotted, 1 << 20), { instanceOf: MalformedMessageError, message: /ASCII without dots/ });
  t.false(isBatch(new TextEncoder().encode("C12:c1")), "call frames are never mistaken for batches");
});
