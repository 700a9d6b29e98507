import { type CreatePayoutParams, newIdempotencyKey, type Payout, toMinorUnits } from "@mypay/sdk";
import { useRef, useState } from "preact/hooks";
import { describeError } from "../../components/async-block.tsx";
import { REVIEW_AMOUNT, SCENARIOS, withScenario } from "./scenarios.ts";

type Fields = Omit<CreatePayoutParams, "destType">;

const initial = (): Fields => ({
  amount: "1000.00",
  currency: "PKR",
  merchantReference: `test-${Date.now().toString(36)}`,
  bankCode: "HBL",
  accountNumber: "1234560001",
  accountTitle: "Ali Khan",
});

/** Field-level problems before anything is sent; the gateway checks again. */
function validate(fields: Fields): Partial<Record<keyof Fields, string>> {
  const errors: Partial<Record<keyof Fields, string>> = {};
  try {
    if (toMinorUnits(fields.amount, fields.currency) <= 0n) errors.amount = "Must be more than zero.";
  } catch (err) {
    errors.amount = (err as Error).message;
  }
  if (!fields.merchantReference.trim()) errors.merchantReference = "Required.";
  if (!fields.bankCode.trim()) errors.bankCode = "Required.";
  if (!/^\d{6,34}$/.test(fields.accountNumber)) errors.accountNumber = "6 to 34 digits.";
  if (!fields.accountTitle.trim()) errors.accountTitle = "Required.";
  return errors;
}

/**
 * The "create test payout" form: a scenario picker that sets the account number's last four digits,
 * a review-size amount shortcut, validation beside each field, and one idempotency key per set of
 * values, so a resubmission after a lost answer can never pay twice.
 */
export function CreatePayoutForm({
  create,
  onCreated,
}: {
  create: (params: Fields, idempotencyKey: string) => Promise<Payout>;
  onCreated: (payout: Payout) => void;
}) {
  const [fields, setFields] = useState<Fields>(initial);
  const [errors, setErrors] = useState<Partial<Record<keyof Fields, string>>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newIdempotencyKey());
  const set = (patch: Partial<Fields>) => {
    setFields((f) => ({ ...f, ...patch }));
    key.current = newIdempotencyKey(); // other values are another payout
  };
  const suffix = fields.accountNumber.slice(-4);
  const submit = async (event: Event) => {
    event.preventDefault();
    const found = validate(fields);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      document.getElementById(`payout-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    setFailure(null);
    try {
      onCreated(await create(fields, key.current));
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  };
  const text = (name: keyof Fields, label: string, extra: Record<string, string> = {}, hint?: string) => (
    <div class="field">
      <label for={`payout-${name}`}>{label}</label>
      <input
        id={`payout-${name}`}
        name={name}
        value={fields[name]}
        onInput={(e) => set({ [name]: (e.target as HTMLInputElement).value })}
        aria-invalid={errors[name] ? "true" : "false"}
        aria-describedby={[errors[name] ? `payout-${name}-error` : "", hint ?? ""].join(" ").trim() || undefined}
        autocomplete="off"
        {...extra}
      />
      {errors[name] && (
        <p id={`payout-${name}-error`} class="inline-error">
          {errors[name]}
        </p>
      )}
    </div>
  );
  return (
    <form class="form" onSubmit={submit} noValidate aria-label="Create test payout">
      <fieldset class="scenarios">
        <legend>Bank scenario</legend>
        {SCENARIOS.map((s) => (
          <label key={s.suffix} class={`scenario ${suffix === s.suffix ? "selected" : ""}`}>
            <input
              type="radio"
              name="scenario"
              value={s.suffix}
              checked={suffix === s.suffix}
              onChange={() => set({ accountNumber: withScenario(fields.accountNumber, s.suffix) })}
            />
            <span>
              <strong>
                {s.suffix} · {s.title}
              </strong>
              <span class="muted small">{s.detail}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <div class="grid">
        <div>
          {text("amount", "Amount", { inputmode: "decimal" }, "amount-hint")}
          <p id="amount-hint" class="muted small">
            Decimal, e.g. 1000.00.{" "}
            <button type="button" class="link-button" onClick={() => set({ amount: REVIEW_AMOUNT })}>
              Use a review-size amount ({REVIEW_AMOUNT})
            </button>
          </p>
        </div>
        <div class="field">
          <label for="payout-currency">Currency</label>
          <select
            id="payout-currency"
            value={fields.currency}
            onChange={(e) => set({ currency: (e.target as HTMLSelectElement).value })}
          >
            <option value="PKR">PKR</option>
          </select>
        </div>
        {text("merchantReference", "Your reference")}
        {text("bankCode", "Bank code")}
        {text("accountNumber", "Account number", { inputmode: "numeric" })}
        {text("accountTitle", "Account title")}
      </div>
      {failure !== null && (
        <div class="error-box" role="alert">
          <p>
            <strong>Not created:</strong> {describeError(failure).message}
          </p>
          {describeError(failure).detail && <p class="muted small">{describeError(failure).detail}</p>}
        </div>
      )}
      <div class="row">
        <button type="submit" class="button primary" disabled={busy} aria-busy={busy ? "true" : "false"}>
          {busy ? "Creating…" : "Create payout"}
        </button>
      </div>
    </form>
  );
}
