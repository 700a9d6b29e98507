/** Account kinds. Merchant funds are split into available and locked; platform accounts have no merchant. */
export const AccountKind = {
  AVAILABLE: "available",
  LOCKED: "locked",
  /** Source of top-ups; the only account that may go negative. */
  FUNDING: "funding",
  /** Money that left for banks. */
  SETTLEMENT: "settlement",
} as const;
export type AccountKind = (typeof AccountKind)[keyof typeof AccountKind];

export const PLATFORM = "";

export const HoldState = { PENDING: "PENDING", CAPTURED: "CAPTURED", RELEASED: "RELEASED" } as const;
export type HoldState = (typeof HoldState)[keyof typeof HoldState];

/** Transfer kinds and the accounts each moves money between (debit → credit). */
export const Movement = {
  topup: { debit: AccountKind.FUNDING, credit: AccountKind.AVAILABLE },
  hold: { debit: AccountKind.AVAILABLE, credit: AccountKind.LOCKED },
  capture: { debit: AccountKind.LOCKED, credit: AccountKind.SETTLEMENT },
  release: { debit: AccountKind.LOCKED, credit: AccountKind.AVAILABLE },
} as const;
export type MovementKind = keyof typeof Movement;

/** The owner of an account of this kind: platform accounts belong to no merchant. */
export function ownerOf(kind: AccountKind, merchantId: string): string {
  return kind === AccountKind.FUNDING || kind === AccountKind.SETTLEMENT ? PLATFORM : merchantId;
}
