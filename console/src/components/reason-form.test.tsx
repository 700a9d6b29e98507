// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";
import { byLabel, byText, click, mount, type } from "../test/render.tsx";
import { ReasonForm } from "./reason-form.tsx";

let cleanup = () => {};
afterEach(() => cleanup());

function open(required: boolean, onSubmit: (reason: string) => Promise<unknown>) {
  const closed: string[] = [];
  const mounted = mount(
    <ReasonForm
      title="Why reject po_1?"
      submitLabel="Reject payout"
      required={required}
      onSubmit={onSubmit}
      onClose={() => closed.push("closed")}
    />,
  );
  cleanup = mounted.cleanup;
  return { root: mounted.root, closed };
}

describe("ReasonForm", () => {
  it("takes focus, and will not submit a required reason left blank", async () => {
    const sent: string[] = [];
    const { root, closed } = open(true, async (r) => sent.push(r));
    const field = byLabel<HTMLTextAreaElement>(root, "Why reject po_1? (required)");
    expect(document.activeElement).toBe(field);
    await type(field, "   ");
    await click(byText(root, "button", "Reject payout"));
    expect(sent).toEqual([]);
    expect(closed).toEqual([]);
    expect(root.querySelector('[role="alert"]')!.textContent).toBe("A reason is required.");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(field.getAttribute("aria-describedby")).toBe(root.querySelector('[role="alert"]')!.id);
  });

  it("sends the trimmed reason and closes; an optional reason may be empty", async () => {
    const sent: string[] = [];
    const required = open(true, async (r) => sent.push(r));
    await type(byLabel<HTMLTextAreaElement>(required.root, /Why reject/), "  name mismatch ");
    await click(byText(required.root, "button", "Reject payout"));
    expect(sent).toEqual(["name mismatch"]);
    expect(required.closed).toEqual(["closed"]);
    cleanup();
    const optional = open(false, async (r) => sent.push(r));
    expect(byText(optional.root, "label", /\(optional\)/)).toBeTruthy();
    await click(byText(optional.root, "button", "Reject payout"));
    expect(sent).toEqual(["name mismatch", ""]);
  });

  it("keeps the form open with the error when the call fails, and closes on Escape", async () => {
    const { root, closed } = open(true, () => Promise.reject(new Error("illegal transition IN_REVIEW → FAILED")));
    await type(byLabel<HTMLTextAreaElement>(root, /Why reject/), "late");
    await click(byText(root, "button", "Reject payout"));
    expect(root.querySelector('[role="alert"]')!.textContent).toBe("illegal transition IN_REVIEW → FAILED");
    expect(closed).toEqual([]);
    root.querySelector("textarea")!.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(closed).toEqual(["closed"]);
  });
});
