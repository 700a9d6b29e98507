import { randomUUID } from "node:crypto";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  Code,
  createLogger,
  type Database,
  dropTestDatabases,
  errorDetails,
  MAX_MINOR_UNITS,
  MERCHANT_HEADER,
  openDatabase,
  Reason,
  testStorage,
} from "@mypay/kit";
import {
  AccountKind,
  BalanceService,
  HoldStatus,
  LedgerService,
  SettleAction,
} from "@mypay/proto/mypay/ledger/v1/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { balanceService, ledgerService } from "./service.ts";
import { entities } from "./store/entities.ts";
import { LedgerStore } from "./store/ledger-store.ts";
import { migrations } from "./store/migrations/index.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";
const newMerchant = () => `m_${randomUUID().slice(0, 8)}`;
const newHold = () => `po_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
const pkr = (minorUnits: bigint) => ({ currency: "PKR", minorUnits });

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    return errorDetails(err);
  }
  throw new Error("expected the call to fail");
}

describe(`ledger RPCs on ${engine}`, () => {
  let db: Database;
  let ledger: Client<typeof LedgerService>;
  let balance: Client<typeof BalanceService>;

  beforeAll(async () => {
    db = await openDatabase({ service: "ledger", settings, entities, migrations, logger: createLogger("t", "silent") });
    const store = new LedgerStore(db);
    const transport = createRouterTransport((router) => {
      router.service(LedgerService, ledgerService(store));
      router.service(BalanceService, balanceService(store));
    });
    ledger = createClient(LedgerService, transport);
    balance = createClient(BalanceService, transport);
  });

  afterAll(async () => {
    await db?.close();
    await dropTestDatabases(settings);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    ["a zero amount", () => ledger.hold({ merchantId: "m", holdId: "h", amount: pkr(0n) }), "amount.minorUnits"],
    [
      "a negative amount",
      () => ledger.topUp({ merchantId: "m", idempotencyKey: "k", amount: pkr(-5n) }),
      "amount.minorUnits",
    ],
    [
      "an amount out of range",
      () => ledger.hold({ merchantId: "m", holdId: "h", amount: pkr(MAX_MINOR_UNITS + 1n) }),
      "amount.minorUnits",
    ],
    [
      "an unknown currency",
      () => ledger.hold({ merchantId: "m", holdId: "h", amount: { currency: "XYZ", minorUnits: 1n } }),
      "amount.currency",
    ],
    ["no amount", () => ledger.hold({ merchantId: "m", holdId: "h" }), "amount"],
    ["no hold id", () => ledger.hold({ merchantId: "m", amount: pkr(1n) }), "holdId"],
    ["no idempotency key", () => ledger.topUp({ merchantId: "m", amount: pkr(1n) }), "idempotencyKey"],
    ["an unknown balance currency", () => ledger.getBalance({ merchantId: "m", currency: "pkr" }), "currency"],
    ["a page too large", () => ledger.listEntries({ page: { limit: 101 } }), "page.limit"],
    ["a bad cursor", () => ledger.listEntries({ page: { startingAfter: "x1" } }), "page.startingAfter"],
  ])("rejects %s as INVALID_ARGUMENT naming the field", async (_name, call, field) => {
    expect(await failure(call())).toMatchObject({ code: Code.InvalidArgument, reason: Reason.INVALID_ARGUMENT, field });
  });

  it("replays every mutating RPC with the first result and rejects a mismatched replay", async () => {
    const m = newMerchant();
    const topUp = { merchantId: m, idempotencyKey: `k-${m}`, amount: pkr(10_000n) };
    const first = await ledger.topUp(topUp);
    expect(await ledger.topUp(topUp)).toEqual(first);
    expect(await failure(ledger.topUp({ ...topUp, amount: pkr(9_999n) }))).toMatchObject({
      code: Code.Aborted,
      reason: Reason.IDEMPOTENCY_MISMATCH,
    });

    const [a, b, c] = [newHold(), newHold(), newHold()];
    for (const holdId of [a, b, c]) {
      const held = await ledger.hold({ merchantId: m, holdId, amount: pkr(1_000n) });
      expect(await ledger.hold({ merchantId: m, holdId, amount: pkr(1_000n) })).toEqual(held);
      expect(await failure(ledger.hold({ merchantId: m, holdId, amount: pkr(1_001n) }))).toMatchObject({
        code: Code.Aborted,
        reason: Reason.IDEMPOTENCY_MISMATCH,
      });
    }
    const captured = await ledger.capture({ holdId: a });
    expect(await ledger.capture({ holdId: a })).toEqual(captured);
    expect(await failure(ledger.release({ holdId: a }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: Reason.HOLD_ALREADY_FINAL,
      metadata: { status: "CAPTURED" },
    });
    const released = await ledger.release({ holdId: b });
    expect(await ledger.release({ holdId: b })).toEqual(released);

    const settle = {
      settlements: [
        { holdId: c, action: SettleAction.CAPTURE },
        { holdId: b, action: SettleAction.RELEASE },
        { holdId: a, action: SettleAction.RELEASE },
        { holdId: c, action: SettleAction.UNSPECIFIED },
        { holdId: "po_missing", action: SettleAction.CAPTURE },
      ],
    };
    const settled = await ledger.settleHolds(settle);
    expect(settled.results.map((r) => [r.holdId, r.hold?.status, r.errorCode, r.errorReason])).toEqual([
      [c, HoldStatus.CAPTURED, "", ""],
      [b, HoldStatus.RELEASED, "", ""],
      [a, undefined, "FAILED_PRECONDITION", Reason.HOLD_ALREADY_FINAL],
      [c, undefined, "INVALID_ARGUMENT", Reason.INVALID_ARGUMENT],
      ["po_missing", undefined, "NOT_FOUND", Reason.NOT_FOUND],
    ]);
    expect(await ledger.settleHolds(settle)).toEqual(settled);

    expect((await ledger.getBalance({ merchantId: m, currency: "PKR" })).balance).toMatchObject({
      availableMinor: 8_000n,
      lockedMinor: 0n,
      balanceMinor: 8_000n,
    });
    expect(await ledger.verifyInvariants({})).toMatchObject({ ok: true, violations: [] });
  });

  it("places a batch of holds with each item's own outcome, as separate Hold calls would answer", async () => {
    const merchant = newMerchant();
    await ledger.topUp({ merchantId: merchant, idempotencyKey: `open-${merchant}`, amount: pkr(500n) });
    const [first, tooMuch, invalid, second] = [newHold(), newHold(), newHold(), newHold()];
    const { results } = await ledger.placeHolds({
      holds: [
        { merchantId: merchant, holdId: first, amount: pkr(300n) },
        { merchantId: merchant, holdId: first, amount: pkr(300n) },
        // 300 of 500 are locked by now: judged in order, so this one fails alone and leaves nothing behind.
        { merchantId: merchant, holdId: tooMuch, amount: pkr(300n) },
        { merchantId: merchant, holdId: invalid, amount: pkr(0n) },
        { merchantId: merchant, holdId: second, amount: pkr(200n) },
        { merchantId: merchant, holdId: first, amount: pkr(301n) },
      ],
    });
    expect(results.map((r) => r.holdId)).toEqual([first, first, tooMuch, invalid, second, first]);
    expect(results[0]!.hold?.status).toBe(HoldStatus.PENDING);
    expect(results[1]!.hold?.holdId).toBe(first);
    expect(results[2]).toMatchObject({
      errorCode: Code.FailedPrecondition,
      errorReason: Reason.INSUFFICIENT_FUNDS,
      errorField: "amount",
    });
    expect(results[3]).toMatchObject({ errorCode: Code.InvalidArgument, errorField: "amount.minorUnits" });
    expect(results[4]!.hold?.amount?.minorUnits).toBe(200n);
    expect(results[5]).toMatchObject({ errorCode: Code.Aborted, errorReason: Reason.IDEMPOTENCY_MISMATCH });
    const after = await ledger.getBalance({ merchantId: merchant, currency: "PKR" });
    expect(after.balance).toMatchObject({ availableMinor: 0n, lockedMinor: 500n });
    expect((await ledger.verifyInvariants({})).ok).toBe(true);
  });

  it("serves the merchant's own balance and entries from the merchant header, and nothing without it", async () => {
    const m = newMerchant();
    await ledger.topUp({ merchantId: m, idempotencyKey: `k-${m}`, amount: pkr(5_000n) });
    const holdId = newHold();
    await ledger.hold({ merchantId: m, holdId, amount: pkr(2_000n) });
    const headers = { [MERCHANT_HEADER]: m };

    expect(await failure(balance.getMyBalance({}))).toMatchObject({
      code: Code.Unauthenticated,
      reason: Reason.UNAUTHENTICATED,
    });
    expect(await failure(balance.listMyEntries({}))).toMatchObject({ code: Code.Unauthenticated });
    expect((await balance.getMyBalance({}, { headers })).balance).toMatchObject({
      merchantId: m,
      currency: "PKR",
      balanceMinor: 5_000n,
      lockedMinor: 2_000n,
      availableMinor: 3_000n,
    });

    const page1 = await balance.listMyEntries({ page: { limit: 2 } }, { headers });
    expect(page1.hasMore).toBe(true);
    expect(page1.entries.map((e) => [e.transferKind, e.account, e.amountMinor, e.holdId])).toEqual([
      ["hold", AccountKind.LOCKED, 2_000n, holdId],
      ["hold", AccountKind.AVAILABLE, -2_000n, holdId],
    ]);
    const page2 = await balance.listMyEntries({ page: { limit: 2, startingAfter: page1.entries[1]!.id } }, { headers });
    expect(page2.hasMore).toBe(false);
    expect(page2.entries.map((e) => [e.transferKind, e.amountMinor])).toEqual([["topup", 5_000n]]);
    const lockedOnly = await balance.listMyEntries({ account: AccountKind.LOCKED }, { headers });
    expect(lockedOnly.entries).toHaveLength(1);
    expect(await failure(balance.listMyEntries({ account: AccountKind.FUNDING }, { headers }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "account",
    });
    // Another merchant sees none of it.
    const stranger = await balance.listMyEntries({}, { headers: { [MERCHANT_HEADER]: newMerchant() } });
    expect(stranger.entries).toEqual([]);
  });
});
