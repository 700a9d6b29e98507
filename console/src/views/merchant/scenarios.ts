/** The sandbox bank's scenarios, chosen by the account number's last four digits (README "Sandbox bank"). */
export const SCENARIOS = [
  { suffix: "0001", title: "Success", detail: "Paid at once with a PSP reference." },
  { suffix: "0002", title: "Retry, then success", detail: "The first bank attempt fails transiently." },
  { suffix: "0003", title: "Failed", detail: "The bank answers ACCOUNT_CLOSED; the funds come back." },
  { suffix: "0004", title: "No answer", detail: "The bank never answers: stays PENDING, asked again with backoff." },
  { suffix: "0005", title: "On hold", detail: "Held by the bank until an operator releases or fails it." },
] as const;

/** The review threshold's default: payouts of at least this amount start IN_REVIEW. */
export const REVIEW_AMOUNT = "100000.00";

/** The account number with its last four digits replaced by a scenario's. */
export function withScenario(accountNumber: string, suffix: string): string {
  const digits = accountNumber.replace(/\D/g, "");
  return `${digits.length > 4 ? digits.slice(0, -4) : "123456"}${suffix}`;
}
