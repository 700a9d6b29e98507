// @vitest-environment happy-dom
import {
  ApiConnectionError,
  type ListMessagesParams,
  type MyPay,
  PageIterator,
  type WebhookAttempt,
  type WebhookMessage,
} from "@mypay/sdk";
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format.ts";
import { SessionContext } from "../../session.ts";
import { byText, click, mount } from "../../test/render.tsx";
import { PayoutWebhooks } from "./payout-webhooks.tsx";

let cleanup = () => {};
afterEach(() => cleanup());

const message = (id: string, overrides: Partial<WebhookMessage> = {}): WebhookMessage => ({
  id,
  endpointId: "ep_receiver",
  eventId: `evt_${id}`,
  eventType: "payout.updated",
  subjectId: "po_1",
  status: "DELIVERED",
  attempts: 1,
  nextAttemptAt: null,
  createdAt: "2026-12-01T10:00:00.000Z",
  deliveredAt: "2026-12-01T10:00:00.250Z",
  ...overrides,
});

const attempt = (id: string, overrides: Partial<WebhookAttempt>): WebhookAttempt => ({
  id,
  messageId: "msg_1",
  attemptedAt: "2026-12-01T10:00:00.200Z",
  result: "delivered",
  statusCode: 200,
  latencyMs: 42,
  error: null,
  responseExcerpt: "ok",
  ...overrides,
});

/** A merchant client at the edge: canned pages, recording what the view asked for. */
function show(answers: Array<() => Promise<WebhookMessage[]>>, attempts: Record<string, WebhookAttempt[]> = {}) {
  const asked: ListMessagesParams[] = [];
  const replayed: string[] = [];
  const page = <T,>(data: T[]) => ({ data, hasMore: false });
  const client = {
    webhookEndpoints: {
      messages: (params: ListMessagesParams) =>
        new PageIterator(async () => {
          asked.push(params);
          return page(await (answers.length > 1 ? answers.shift()! : answers[0]!)());
        }),
      list: () => new PageIterator(async () => page([{ id: "ep_receiver", url: "https://hooks.example.com/mypay" }])),
      attempts: (id: string) => new PageIterator(async () => page(attempts[id] ?? [])),
      replay: async (id: string) => {
        replayed.push(id);
        return message(id);
      },
    },
  } as unknown as MyPay;
  const mounted = mount(
    <SessionContext.Provider
      value={{ session: { merchant: { key: "mypay_test_x", client }, admin: null }, setSession: () => {} }}
    >
      <PayoutWebhooks payoutId="po_1" />
    </SessionContext.Provider>,
  );
  cleanup = mounted.cleanup;
  return { root: mounted.root, asked, replayed };
}

/** Lets the view's requests answer and Preact render what they brought (messages, then their attempts). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
}

describe("PayoutWebhooks", () => {
  it("lists this payout's messages with every attempt, times in the viewer's locale", async () => {
    const { root, asked } = show([async () => [message("msg_1", { attempts: 2 })]], {
      msg_1: [
        attempt("1", {
          result: "http_error",
          statusCode: 500,
          latencyMs: 1500,
          error: "HTTP 500",
          responseExcerpt: "x",
        }),
        attempt("2", {}),
      ],
    });
    await settle();
    expect(asked).toEqual([{ payoutId: "po_1", limit: 100 }]);
    const row = root.querySelector('tr[data-message="msg_1"]')!;
    expect(row.textContent).toContain("https://hooks.example.com/mypay");
    expect(row.textContent).toContain("DELIVERED");
    const table = root.querySelector('[data-testid="attempts-msg_1"]')!;
    expect(table.querySelector("caption")!.textContent).toBe("Attempts of msg_1");
    const cells = [...table.querySelectorAll("tbody tr")].map((tr) =>
      [...tr.querySelectorAll("td")].map((td) => td.textContent),
    );
    const at = formatTime("2026-12-01T10:00:00.200Z");
    expect(cells).toEqual([
      [at, "http error", "500", "1.5 s", "HTTP 500"],
      [at, "DELIVERED", "200", "42 ms", "ok"],
    ]);
    expect(table.querySelector("time")!.getAttribute("datetime")).toBe("2026-12-01T10:00:00.200Z");
    expect(byText(root, "a", "Open the message log").getAttribute("href")).toMatch(/\/webhooks$/);
  });

  it("replays a message by its accessible name and reads the list again", async () => {
    const { root, asked, replayed } = show([async () => [message("msg_1"), message("msg_2")]]);
    await settle();
    await click(root.querySelector('button[aria-label="Replay msg_2"]')!);
    await settle();
    expect(replayed).toEqual(["msg_2"]);
    expect(asked).toHaveLength(2);
  });

  it("announces loading, shows a failure with a retry, and says when there is nothing yet", async () => {
    const { root } = show([
      () =>
        Promise.reject(
          new ApiConnectionError("the gateway did not answer", {
            code: "UNAVAILABLE",
            rpcCode: 14, // Code.Unavailable
            requestId: "req_down",
          }),
        ),
      async () => [],
    ]);
    expect(root.querySelector('[role="status"]')!.textContent).toBe("Loading webhook messages…");
    await settle();
    const alert = root.querySelector('[role="alert"]')!;
    expect(alert.textContent).toContain("the gateway did not answer");
    expect(alert.textContent).toContain("request req_down");
    await click(byText(alert, "button", "Try again"));
    await settle();
    expect(root.querySelector('[role="alert"]')).toBeNull();
    expect(root.textContent).toContain("No webhook messages for this payout yet.");
  });
});
