import { create } from "@bufbuild/protobuf";
import { Code, errorDetails, MAX_MINOR_UNITS, Reason } from "@mypay/kit";
import {
  type CreatePayoutRequest,
  CreatePayoutRequestSchema,
  DestinationType,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { describe, expect, it } from "vitest";
import { type CreateRules, fingerprintOf, validateCreate } from "./create-payout.ts";

const rules: CreateRules = { currencies: ["PKR", "USD"], maxAmountMinor: 1_000_000_000n };

/** The request's fields, each optional so a test can override or blank any of them. */
interface Fields {
  idempotencyKey?: string;
  merchantReference?: string;
  amount?: { currency: string; minorUnits: bigint } | undefined;
  destType?: DestinationType;
  bankCode?: string;
  accountNumber?: string;
  accountTitle?: string;
}

function request(overrides: Fields = {}): CreatePayoutRequest {
  const valid: Fields = {
    idempotencyKey: "order-1001",
    merchantReference: "INV-1001",
    amount: { currency: "PKR", minorUnits: 100_000n },
    destType: DestinationType.BANK,
    bankCode: "HBL",
    accountNumber: "1234560001",
    accountTitle: "Ali Khan",
  };
  return create(CreatePayoutRequestSchema, { ...valid, ...overrides });
}

/** The INVALID_ARGUMENT a request fails with, as a caller reads it. */
function rejection(req: CreatePayoutRequest, withRules: CreateRules = rules) {
  try {
    validateCreate(req, withRules);
  } catch (err) {
    return errorDetails(err);
  }
  throw new Error("expected validation to fail");
}

describe("validateCreate", () => {
  it("accepts a valid request and normalises it", () => {
    expect(
      validateCreate(
        request({ merchantReference: "  INV-1001 ", accountTitle: " Ali Khan\t", bankCode: " HBL " }),
        rules,
      ),
    ).toEqual({
      idempotencyKey: "order-1001",
      merchantReference: "INV-1001",
      currency: "PKR",
      amount: 100_000n,
      destType: "BANK",
      bankCode: "HBL",
      accountNumber: "1234560001",
      accountTitle: "Ali Khan",
    });
  });

  it.each<[string, Fields]>([
    ["a 255-character key", { idempotencyKey: "k".repeat(255) }],
    ["a key of visible ASCII punctuation", { idempotencyKey: "a:b/c_d-e.f~!{}" }],
    ["another allowed currency", { amount: { currency: "USD", minorUnits: 1n } }],
    ["the maximum amount", { amount: { currency: "PKR", minorUnits: rules.maxAmountMinor } }],
    ["a 2-character bank code", { bankCode: "AB" }],
    ["a 16-character bank code", { bankCode: "ABCDEFGH12345678" }],
    ["a 4-digit account number", { accountNumber: "0001" }],
    ["a 34-digit account number", { accountNumber: "1".repeat(34) }],
    ["a 64-character reference", { merchantReference: "r".repeat(64) }],
    ["a 128-character title", { accountTitle: "t".repeat(128) }],
    ["a non-ASCII title", { accountTitle: "محمد علی" }],
  ])("accepts %s", (_name, fields) => {
    expect(() => validateCreate(request(fields), rules)).not.toThrow();
  });

  it.each<[string, Fields, string]>([
    ["a missing idempotency key", { idempotencyKey: "" }, "idempotencyKey"],
    ["a 256-character idempotency key", { idempotencyKey: "k".repeat(256) }, "idempotencyKey"],
    ["an idempotency key with a space", { idempotencyKey: "order 1" }, "idempotencyKey"],
    ["an idempotency key with a control character", { idempotencyKey: "order\n1" }, "idempotencyKey"],
    ["a non-ASCII idempotency key", { idempotencyKey: "ordér" }, "idempotencyKey"],
    ["a missing amount", { amount: undefined }, "amount"],
    ["a zero amount", { amount: { currency: "PKR", minorUnits: 0n } }, "amount"],
    ["a negative amount", { amount: { currency: "PKR", minorUnits: -100n } }, "amount"],
    ["an amount over the configured maximum", { amount: { currency: "PKR", minorUnits: 1_000_000_001n } }, "amount"],
    ["a currency the service does not pay out in", { amount: { currency: "EUR", minorUnits: 100n } }, "currency"],
    ["an unknown currency", { amount: { currency: "XXX", minorUnits: 100n } }, "currency"],
    ["a lower-case currency", { amount: { currency: "pkr", minorUnits: 100n } }, "currency"],
    ["an empty currency", { amount: { currency: "", minorUnits: 100n } }, "currency"],
    ["an unspecified destination type", { destType: DestinationType.UNSPECIFIED }, "destType"],
    ["an unknown destination type", { destType: 7 as DestinationType }, "destType"],
    ["a missing merchant reference", { merchantReference: "" }, "merchantReference"],
    ["a blank merchant reference", { merchantReference: "   " }, "merchantReference"],
    ["a 65-character merchant reference", { merchantReference: "r".repeat(65) }, "merchantReference"],
    ["a missing bank code", { bankCode: "" }, "bankCode"],
    ["a 1-character bank code", { bankCode: "H" }, "bankCode"],
    ["a 17-character bank code", { bankCode: "A".repeat(17) }, "bankCode"],
    ["a bank code with punctuation", { bankCode: "HB-L" }, "bankCode"],
    ["a missing account number", { accountNumber: "" }, "accountNumber"],
    ["a 3-digit account number", { accountNumber: "001" }, "accountNumber"],
    ["a 35-digit account number", { accountNumber: "1".repeat(35) }, "accountNumber"],
    ["an account number with letters", { accountNumber: "PK36SCBL0000001123456702" }, "accountNumber"],
    ["an account number with inner spaces", { accountNumber: "1234 5600 01" }, "accountNumber"],
    ["a missing account title", { accountTitle: "" }, "accountTitle"],
    ["a blank account title", { accountTitle: " \t " }, "accountTitle"],
    ["a 129-character account title", { accountTitle: "t".repeat(129) }, "accountTitle"],
  ])("rejects %s as INVALID_ARGUMENT naming the field", (_name, fields, field) => {
    const err = rejection(request(fields));
    expect(err).toMatchObject({ code: Code.InvalidArgument, reason: Reason.INVALID_ARGUMENT, field });
    expect(err.message.startsWith(`${field}: `)).toBe(true);
  });

  it("caps amounts at the platform maximum even when the configured maximum is higher", () => {
    const loose: CreateRules = { currencies: ["PKR"], maxAmountMinor: MAX_MINOR_UNITS * 10n };
    expect(() =>
      validateCreate(request({ amount: { currency: "PKR", minorUnits: MAX_MINOR_UNITS } }), loose),
    ).not.toThrow();
    expect(rejection(request({ amount: { currency: "PKR", minorUnits: MAX_MINOR_UNITS + 1n } }), loose)).toMatchObject({
      field: "amount",
    });
  });

  it("rejects a currency allowed by configuration but unknown to the money rules", () => {
    expect(
      rejection(request({ amount: { currency: "XYZ", minorUnits: 1n } }), { currencies: ["XYZ"], maxAmountMinor: 10n }),
    ).toMatchObject({ field: "currency" });
  });
});

describe("fingerprintOf", () => {
  const base = validateCreate(request(), rules);

  it("is the same for the same request, whatever the idempotency key or padding", () => {
    expect(fingerprintOf(validateCreate(request(), rules))).toBe(fingerprintOf(base));
    expect(fingerprintOf(validateCreate(request({ idempotencyKey: "other-key" }), rules))).toBe(fingerprintOf(base));
    expect(fingerprintOf(validateCreate(request({ accountTitle: "  Ali Khan " }), rules))).toBe(fingerprintOf(base));
  });

  it.each<[string, Fields]>([
    ["merchant reference", { merchantReference: "INV-1002" }],
    ["amount", { amount: { currency: "PKR", minorUnits: 100_001n } }],
    ["currency", { amount: { currency: "USD", minorUnits: 100_000n } }],
    ["bank code", { bankCode: "MCB" }],
    ["account number", { accountNumber: "1234560002" }],
    ["account title", { accountTitle: "Ali  Khan" }],
  ])("changes when the %s changes", (_name, fields) => {
    expect(fingerprintOf(validateCreate(request(fields), rules))).not.toBe(fingerprintOf(base));
  });

  it("keeps field boundaries: moving text from one field to the next changes it", () => {
    const a = validateCreate(request({ merchantReference: "INV-1", accountTitle: "Ali Khan" }), rules);
    const b = validateCreate(request({ merchantReference: "INV-", accountTitle: "1Ali Khan" }), rules);
    expect(fingerprintOf(a)).not.toBe(fingerprintOf(b));
  });

  it("fits the payouts.fingerprint column", () => {
    expect(fingerprintOf(base).length).toBeLessThanOrEqual(64);
  });
});
