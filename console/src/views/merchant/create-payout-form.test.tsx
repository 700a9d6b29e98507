// @vitest-environment happy-dom
import { IdempotencyError, type Payout } from "@mypay/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { byLabel, byText, click, mount, type } from "../../test/render.tsx";
import { CreatePayoutForm } from "./create-payout-form.tsx";
import { withScenario } from "./scenarios.ts";

let cleanup = () => {};
afterEach(() => cleanup());

interface Sent {
  params: Record<string, string>;
  key: string;
}

function form(answers: Array<() => Promise<Payout>>) {
  const sent: Sent[] = [];
  const created: string[] = [];
  const mounted = mount(
    <CreatePayoutForm
      create={(params, key) => {
        sent.push({ params: { ...params }, key });
        return answers.shift()!();
      }}
      onCreated={(p) => created.push(p.id)}
    />,
  );
  cleanup = mounted.cleanup;
  return { root: mounted.root, sent, created };
}

const payout = (id: string) => Promise.resolve({ id } as Payout);
const submit = (root: HTMLElement) => click(byText(root, "button", "Create payout"));

describe("CreatePayoutForm", () => {
  it("sets the account number's last four digits from the scenario picker and the review amount", async () => {
    const { root, sent } = form([() => payout("po_1")]);
    await click(byLabel(root, /0003 · Failed/));
    expect(byLabel(root, "Account number").value).toBe("1234560003");
    await click(byLabel(root, /0005 · On hold/));
    expect(byLabel(root, "Account number").value).toBe("1234560005");
    await click(byText(root, "button", /review-size amount/));
    expect(byLabel(root, "Amount").value).toBe("100000.00");
    await submit(root);
    expect(sent[0]!.params).toMatchObject({ amount: "100000.00", currency: "PKR", accountNumber: "1234560005" });
  });

  it("checks fields before sending and points at the first bad one", async () => {
    const { root, sent } = form([]);
    await type(byLabel(root, "Amount"), "12.345");
    await type(byLabel(root, "Account title"), " ");
    await submit(root);
    expect(sent).toEqual([]);
    const amount = byLabel(root, "Amount");
    expect(amount.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(amount);
    expect(root.querySelector("#payout-amount-error")!.textContent).toMatch(/decimal/i);
    expect(amount.getAttribute("aria-describedby")).toBe("payout-amount-error amount-hint");
    expect(root.querySelector("#payout-accountTitle-error")!.textContent).toBe("Required.");
  });

  it("resends the same idempotency key for the same values, and a new one once a value changes", async () => {
    const conflict = new IdempotencyError("a request with this idempotency key is still in progress", {
      code: "IDEMPOTENCY_IN_PROGRESS",
      rpcCode: 10, // Code.Aborted
    });
    const { root, sent, created } = form([() => Promise.reject(conflict), () => payout("po_2"), () => payout("po_3")]);
    await submit(root);
    expect(root.querySelector('[role="alert"]')!.textContent).toContain("still in progress");
    await submit(root);
    expect(created).toEqual(["po_2"]);
    expect(sent[1]!.key).toBe(sent[0]!.key);
    await type(byLabel(root, "Amount"), "2000.00");
    await submit(root);
    expect(sent[2]!.key).not.toBe(sent[1]!.key);
    expect(sent[2]!.params.amount).toBe("2000.00");
  });
});

describe("withScenario", () => {
  it("replaces the last four digits, or starts from the sandbox number", () => {
    expect(withScenario("9876543210001", "0002")).toBe("9876543210002");
    expect(withScenario("12", "0004")).toBe("1234560004");
  });
});
