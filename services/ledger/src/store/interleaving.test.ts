import { randomUUID } from "node:crypto";
import {
  createLogger,
  type Database,
  dropTestDatabases,
  errorDetails,
  openDatabase,
  Reason,
  testStorage,
} from "@mypay/kit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HoldState } from "../domain/accounts.ts";
import { entities } from "./entities.ts";
import { LedgerStore } from "./ledger-store.ts";
import { migrations } from "./migrations/index.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";
/** Replay a failure with FC_SEED=<seed printed in the failure>. */
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MERCHANTS = 3;
const OPENING = 10_000n;

type Command =
  | { kind: "topup"; merchant: number; amount: number; wave: number }
  | { kind: "hold"; merchant: number; amount: number; wave: number }
  | { kind: "capture" | "release" | "replay"; ref: number; wave: number };

const wave = fc.integer({ min: 0, max: 3 });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant("topup" as const),
    merchant: fc.nat(MERCHANTS - 1),
    amount: fc.integer({ min: 1, max: 3_000 }),
    wave,
  }),
  fc.record({
    kind: fc.constant("hold" as const),
    merchant: fc.nat(MERCHANTS - 1),
    amount: fc.integer({ min: 1, max: 6_000 }),
    wave,
  }),
  fc.record({ kind: fc.constantFrom("capture" as const, "release" as const, "replay" as const), ref: fc.nat(), wave }),
);

describe(`randomised interleavings on ${engine}`, () => {
  let db: Database;
  let store: LedgerStore;
  let other: LedgerStore;

  beforeAll(async () => {
    db = await openDatabase({ service: "ledger", settings, entities, migrations, logger: createLogger("t", "silent") });
    store = new LedgerStore(db);
    // A second store plays a second ledger process: its own group committer and account cache.
    other = new LedgerStore(db, { groupCommit: { maxWaitMs: 0, concurrency: 3 } });
  });

  afterAll(async () => {
    await db?.close();
    await dropTestDatabases(settings);
  });

  it("keeps every invariant and every caller's answer consistent with the final books", async () => {
    const property = fc.asyncProperty(fc.array(command, { minLength: 50, maxLength: 50 }), async (commands) => {
      const merchants = Array.from({ length: MERCHANTS }, () => `m_${randomUUID().slice(0, 8)}`);
      for (const m of merchants) await store.topUp(m, "PKR", OPENING, `open:${m}`);
      const holds = commands.flatMap((c) =>
        c.kind === "hold" ? [{ ...c, id: `po_${randomUUID().slice(0, 18)}` }] : [],
      );
      const holdOf = (ref: number) => holds[ref % Math.max(1, holds.length)];
      let holdIndex = 0;
      const calls = commands.map((c, i) => {
        const via = i % 2 === 0 ? store : other;
        switch (c.kind) {
          case "topup":
            return { c, run: () => via.topUp(merchants[c.merchant]!, "PKR", BigInt(c.amount), `t:${randomUUID()}`) };
          case "hold": {
            const h = holds[holdIndex++]!;
            return { c, run: () => via.hold(merchants[h.merchant]!, h.id, "PKR", BigInt(h.amount)) };
          }
          default: {
            const h = holdOf(c.ref);
            if (!h) return { c, run: () => via.capture("po_none") };
            if (c.kind === "capture") return { c, run: () => via.capture(h.id) };
            if (c.kind === "release") return { c, run: () => via.release(h.id) };
            return { c, run: () => via.hold(merchants[h.merchant]!, h.id, "PKR", BigInt(h.amount)) };
          }
        }
      });
      const outcomes: PromiseSettledResult<unknown>[] = new Array(calls.length);
      for (let w = 0; w <= 3; w++) {
        const inWave = calls.map((call, i) => ({ call, i })).filter(({ call }) => call.c.wave === w);
        const settled = await Promise.allSettled(inWave.map(({ call }) => call.run()));
        inWave.forEach(({ i }, j) => {
          outcomes[i] = settled[j]!;
        });
      }

      const allowed = new Set<string>([Reason.INSUFFICIENT_FUNDS, Reason.NOT_FOUND, Reason.HOLD_ALREADY_FINAL]);
      const unexpected = outcomes.flatMap((o) =>
        o.status === "rejected" && !allowed.has(errorDetails(o.reason).reason) ? [errorDetails(o.reason)] : [],
      );
      expect(unexpected, "failures other than insufficient funds, unknown or final holds").toEqual([]);

      // Every answer agrees with the final state of its hold.
      const finals = new Map<string, HoldState | undefined>();
      for (const h of holds) finals.set(h.id, (await store.getHold(h.id))?.status);
      commands.forEach((c, i) => {
        const o = outcomes[i]!;
        if (o.status !== "fulfilled" || c.kind === "topup" || c.kind === "hold" || c.kind === "replay") return;
        const h = holdOf(c.ref);
        if (h) expect(finals.get(h.id)).toBe(c.kind === "capture" ? HoldState.CAPTURED : HoldState.RELEASED);
      });

      // Money: opening + successful top-ups − captured holds = available + locked; locked = pending holds.
      for (let m = 0; m < MERCHANTS; m++) {
        const toppedUp = commands.reduce(
          (sum, c, i) =>
            c.kind === "topup" && c.merchant === m && outcomes[i]!.status === "fulfilled"
              ? sum + BigInt(c.amount)
              : sum,
          OPENING,
        );
        const mine = holds.filter((h) => h.merchant === m);
        const captured = mine.reduce(
          (s, h) => (finals.get(h.id) === HoldState.CAPTURED ? s + BigInt(h.amount) : s),
          0n,
        );
        const pending = mine.reduce((s, h) => (finals.get(h.id) === HoldState.PENDING ? s + BigInt(h.amount) : s), 0n);
        const balance = await store.balance(merchants[m]!, "PKR");
        expect(balance.available + balance.locked).toBe(toppedUp - captured);
        expect(balance.locked).toBe(pending);
      }
      const report = await store.verifyInvariants();
      expect(report.violations).toEqual([]);
      // The periodic check, from the checkpoints the previous run left, agrees.
      expect((await store.verifyRecent()).violations).toEqual([]);
    });
    try {
      await fc.assert(property, { seed, numRuns: 20, endOnFailure: true });
    } catch (err) {
      throw new Error(`interleaving property failed; replay with FC_SEED=${seed}\n${String(err)}`);
    }
  });
});
