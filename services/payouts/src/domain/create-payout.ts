import { createHash } from "node:crypto";
import { currencyExponent, invalidArgument, MAX_MINOR_UNITS } from "@mypay/kit";
import { type CreatePayoutRequest, DestinationType } from "@mypay/proto/mypay/payouts/v1/payouts";

/** A create request that passed validation, normalised. */
export interface NewPayout {
  idempotencyKey: string;
  merchantReference: string;
  currency: string;
  amount: bigint;
  destType: "BANK";
  bankCode: string;
  accountNumber: string;
  accountTitle: string;
}

export interface CreateRules {
  currencies: readonly string[];
  maxAmountMinor: bigint;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

function text(field: string, value: string, max: number, pattern?: RegExp, hint?: string): string {
  const trimmed = value.trim();
  if (trimmed === "") throw invalidArgument(field, "is required");
  if (trimmed.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  if (pattern && !pattern.test(trimmed)) throw invalidArgument(field, hint ?? "has an invalid format");
  return trimmed;
}

/** Validates a create request; each failure is INVALID_ARGUMENT naming the field. */
export function validateCreate(req: CreatePayoutRequest, rules: CreateRules): NewPayout {
  const idempotencyKey = req.idempotencyKey;
  if (!idempotencyKey) throw invalidArgument("idempotencyKey", "is required");
  if (!KEY.test(idempotencyKey)) throw invalidArgument("idempotencyKey", "must be 1-255 visible ASCII characters");
  if (!req.amount) throw invalidArgument("amount", "is required");
  const currency = req.amount.currency;
  if (!rules.currencies.includes(currency) || currencyExponent(currency) === undefined) {
    throw invalidArgument("currency", `must be one of ${rules.currencies.join(", ")}`);
  }
  const amount = req.amount.minorUnits;
  if (amount <= 0n) throw invalidArgument("amount", "must be greater than 0");
  if (amount > rules.maxAmountMinor || amount > MAX_MINOR_UNITS) throw invalidArgument("amount", "exceeds the maximum");
  if (req.destType !== DestinationType.BANK) throw invalidArgument("destType", "must be BANK");
  return {
    idempotencyKey,
    merchantReference: text("merchantReference", req.merchantReference, 64),
    currency,
    amount,
    destType: "BANK",
    bankCode: text("bankCode", req.bankCode, 16, /^[A-Za-z0-9]{2,16}$/, "must be 2-16 letters or digits"),
    accountNumber: text("accountNumber", req.accountNumber, 34, /^\d{4,34}$/, "must be 4-34 digits"),
    accountTitle: text("accountTitle", req.accountTitle, 128),
  };
}

/** Hash of everything the merchant asked for, to tell a replay from a reused key with another body. */
export function fingerprintOf(p: NewPayout): string {
  const canonical = JSON.stringify([
    p.merchantReference,
    p.currency,
    p.amount.toString(),
    p.destType,
    p.bankCode,
    p.accountNumber,
    p.accountTitle,
  ]);
  return createHash("sha256").update(canonical).digest("base64url");
}
