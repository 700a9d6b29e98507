// @vitest-environment happy-dom
import { InvalidRequestError } from "@mypay/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { click, mount } from "../test/render.tsx";
import type { AsyncState } from "../use-async.ts";
import { AsyncBlock } from "./async-block.tsx";

let cleanup = () => {};
afterEach(() => cleanup());

function show(state: AsyncState<string[]>, onRetry?: () => void) {
  const mounted = mount(
    <AsyncBlock state={state} label="payouts" {...(onRetry ? { onRetry } : {})}>
      {(items) => (
        <ul>
          {items.map((i) => (
            <li key={i}>{i}</li>
          ))}
        </ul>
      )}
    </AsyncBlock>,
  );
  cleanup = mounted.cleanup;
  return mounted.root;
}

describe("AsyncBlock", () => {
  it("announces loading politely", () => {
    const root = show({ status: "loading" });
    const status = root.querySelector('[role="status"]')!;
    expect(status.textContent).toBe("Loading payouts…");
    expect(status.getAttribute("aria-live")).toBe("polite");
  });

  it("shows a failure as an alert with the API's code and request id, and retries on request", async () => {
    const error = new InvalidRequestError("amount: at most 2 decimal places for PKR", {
      code: "INVALID_ARGUMENT",
      rpcCode: 3, // Code.InvalidArgument
      requestId: "req_abc",
    });
    let retried = 0;
    const root = show({ status: "error", error }, () => retried++);
    const alert = root.querySelector('[role="alert"]')!;
    expect(alert.textContent).toContain("amount: at most 2 decimal places for PKR");
    expect(alert.textContent).toContain("INVALID_ARGUMENT · request req_abc");
    await click(alert.querySelector("button")!);
    expect(retried).toBe(1);
  });

  it("renders the data, and keeps it with a warning when a live refresh fails", () => {
    const root = show({ status: "ready", data: ["po_1", "po_2"], refreshing: false, refreshError: null });
    expect([...root.querySelectorAll("li")].map((li) => li.textContent)).toEqual(["po_1", "po_2"]);
    expect(root.querySelector('[role="status"]')).toBeNull();
    cleanup();
    const stale = show({ status: "ready", data: ["po_1"], refreshing: false, refreshError: new Error("offline") });
    expect(stale.querySelector('[role="status"]')!.textContent).toBe(
      "Could not refresh payouts: offline. Showing the last answer.",
    );
    expect(stale.querySelector("li")!.textContent).toBe("po_1");
  });
});
