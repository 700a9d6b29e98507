import { dropTestDatabases, testStorage } from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type RunningMesh, startMesh } from "./mesh.ts";

const KEY_A = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const MAX_BODY_BYTES = 65_536;
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

interface Sent {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const payoutBody = (accountNumber: string, reference: string, amount: unknown = "100.00") => ({
  merchantReference: reference,
  amount,
  currency: "PKR",
  destType: "BANK",
  bankCode: "HBL",
  accountNumber,
  accountTitle: "Ali Khan",
});

/** Statuses a route may answer while the internal RPC behind it is still being built. */
const NOT_YET = 501;

describe(`gateway REST on ${engine}`, () => {
  let mesh: RunningMesh;
  let keyB: string;
  /** Objects of merchant A that B must never reach. */
  const a = { payoutId: "", endpointId: "", messageId: "" };

  /** Sends a request; `body` as a string or Buffer is sent raw, anything else as JSON. */
  const send = async (
    method: string,
    path: string,
    options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Sent> => {
    const headers = new Headers(options.headers);
    if (options.key !== null) headers.set("x-api-key", options.key ?? KEY_A);
    let body: string | Buffer | undefined;
    if (options.body !== undefined) {
      body =
        typeof options.body === "string" || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const res = await fetch(`${mesh.gatewayUrl}${path}`, { method, headers, body });
    const text = await res.text();
    expect(res.headers.get("content-type"), `${method} ${path}: ${text}`).toMatch(/^application\/json/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
  };
  const admin = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    send(method, path, { key: ADMIN_KEY, body, headers });
  const errorOf = (r: Sent) => r.body.error as Record<string, string>;

  beforeAll(async () => {
    mesh = await startMesh(storage, {
      BANK_DELAY_MS: "0",
      RATE_LIMIT_READ_BURST: "100000",
      RATE_LIMIT_WRITE_BURST: "100000",
    });
    expect((await admin("POST", "/api/v1/admin/merchants", { id: "mch_b", name: "Merchant B" })).status).toBe(201);
    const key = await admin("POST", "/api/v1/admin/merchants/mch_b/api-keys");
    expect(key.status).toBe(201);
    keyB = key.body.key as string;
    const topUp = await admin(
      "POST",
      "/api/v1/admin/merchants/mch_b/top-ups",
      { amount: "5000.00", currency: "PKR" },
      { "Idempotency-Key": "topup-b-1" },
    );
    expect(topUp.status).toBe(201);
    expect(topUp.body).toMatchObject({ merchantId: "mch_b", available: "5000.00" });

    const endpoint = await send("POST", "/api/v1/webhook-endpoints", { body: { url: "http://127.0.0.1:9/hooks" } });
    expect(endpoint.status).toBe(201);
    a.endpointId = endpoint.body.id as string;
    // 0004: the bank never answers, so the payout stays cancellable.
    const payout = await send("POST", "/api/v1/payouts", {
      body: payoutBody("1234560004", "tenancy-a"),
      headers: { "X-IDEMPOTENCY-KEY": "tenancy-a" },
    });
    expect(payout.status).toBe(201);
    a.payoutId = payout.body.id as string;
  }, 90_000);

  afterAll(async () => {
    const code = await mesh?.stop();
    if (code !== 0) console.error(mesh?.output.slice(-30).join("\n"));
    await dropTestDatabases(storage);
    expect(code).toBe(0);
  });

  describe("payouts", () => {
    it("creates with either idempotency header and replays with Idempotent-Replayed", async () => {
      for (const header of ["X-IDEMPOTENCY-KEY", "Idempotency-Key"]) {
        const body = payoutBody("1234560001", `idem-${header}`, 10.5);
        const first = await send("POST", "/api/v1/payouts", { body, headers: { [header]: `idem-${header}` } });
        expect(first.status).toBe(201);
        expect(first.body).toMatchObject({ status: "PENDING", amount: "10.50", currency: "PKR" });
        expect(first.headers.get("idempotent-replayed")).toBeNull();
        expect(first.headers.get("ratelimit-limit")).toBe("100000");
        const again = await send("POST", "/api/v1/payouts", { body, headers: { [header]: `idem-${header}` } });
        expect(again.status).toBe(201);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.body.id).toBe(first.body.id);
        const other = await send("POST", "/api/v1/payouts", {
          body: { ...body, amount: "11.00" },
          headers: { [header]: `idem-${header}` },
        });
        expect(other.status).toBe(422);
        expect(errorOf(other).type).toBe("idempotency_error");
      }
    });

    it("echoes a valid X-Request-Id and replaces an unsafe one", async () => {
      const mine = await send("GET", "/api/v1/balance", { headers: { "x-request-id": "req-rest-1" } });
      expect(mine.headers.get("x-request-id")).toBe("req-rest-1");
      const unsafe = await send("GET", "/api/v1/nope", { headers: { "x-request-id": "bad id with spaces" } });
      expect(unsafe.headers.get("x-request-id")).toMatch(/^req_/);
      expect(errorOf(unsafe).requestId).toBe(unsafe.headers.get("x-request-id"));
    });

    it("gets, lists with paging and a status filter, cancels and shows history", async () => {
      const got = await send("GET", `/api/v1/payouts/${a.payoutId}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id: a.payoutId, amount: "100.00" });

      const list = await send("GET", "/api/v1/payouts?limit=1");
      if (list.status !== NOT_YET) {
        expect(list.status).toBe(200);
        expect(list.body.data).toHaveLength(1);
        expect(list.body.hasMore).toBe(true);
        const first = (list.body.data as { id: string }[])[0]!;
        const next = await send("GET", `/api/v1/payouts?limit=100&startingAfter=${first.id}`);
        expect(next.status).toBe(200);
        expect((next.body.data as { id: string }[]).map((p) => p.id)).not.toContain(first.id);
        const filtered = await send("GET", "/api/v1/payouts?status=SUCCESS,FAILED&limit=100");
        expect(filtered.status).toBe(200);
        for (const p of filtered.body.data as { status: string }[]) expect(["SUCCESS", "FAILED"]).toContain(p.status);
      }

      const cancelled = await send("POST", `/api/v1/payouts/${a.payoutId}/cancel`);
      expect([200, 409, NOT_YET]).toContain(cancelled.status);
      if (cancelled.status === 200) {
        expect(cancelled.body.status).toBe("CANCELLED");
        const twice = await send("POST", `/api/v1/payouts/${a.payoutId}/cancel`, { body: { reason: "again" } });
        expect(twice.status).toBe(409);
      }
      const history = await send("GET", `/api/v1/payouts/${a.payoutId}/history`);
      expect([200, NOT_YET]).toContain(history.status);
      if (history.status === 200) expect((history.body.data as unknown[]).length).toBeGreaterThan(0);
    });
  });

  it("answers concurrent GETs each with its own payout, coalesced into batch reads per merchant", async () => {
    const create = (key: string, n: number) =>
      send("POST", "/api/v1/payouts", {
        key,
        body: payoutBody("1234560001", `burst-${n}`, "1.00"),
        headers: { "X-IDEMPOTENCY-KEY": `burst-${n}` },
      });
    const mine = await Promise.all([0, 1, 2, 3, 4].map((n) => create(KEY_A, n)));
    const theirs = await create(keyB, 5);
    for (const r of [...mine, theirs]) expect(r.status).toBe(201);
    const ids = mine.map((r) => r.body.id as string);
    const theirId = theirs.body.id as string;
    const batches = async () => {
      const text = await (await fetch(`${mesh.gatewayUrl}/metrics`)).text();
      return Number(/^gateway_payout_read_batch_size_count\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    const before = await batches();
    const reads: { key: string; id: string; found: boolean }[] = [];
    for (let round = 0; round < 8; round++) {
      for (const id of ids) reads.push({ key: KEY_A, id, found: true });
      reads.push({ key: KEY_A, id: theirId, found: false }, { key: keyB, id: ids[round % ids.length]!, found: false });
      reads.push({ key: keyB, id: theirId, found: true }, { key: KEY_A, id: `po_missing${round}`, found: false });
    }
    const answers = await Promise.all(reads.map((r) => send("GET", `/api/v1/payouts/${r.id}`, { key: r.key })));
    answers.forEach((res, i) => {
      const read = reads[i]!;
      if (read.found) {
        expect(res.status, read.id).toBe(200);
        expect(res.body.id).toBe(read.id);
      } else {
        expect(res.status, read.id).toBe(404);
        expect(errorOf(res)).toMatchObject({ code: "not_found", message: `payout ${read.id} not found` });
      }
    });
    // Fewer batch calls than reads: concurrent GETs shared calls to the payouts service.
    const sent = (await batches()) - before;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(reads.length);
  });

  describe("balance, ledger and webhooks", () => {
    it("reads the balance and the ledger entries", async () => {
      const balance = await send("GET", "/api/v1/balance");
      expect(balance.status).toBe(200);
      expect(balance.body).toMatchObject({ currency: "PKR", balance: expect.stringMatching(/^\d+\.\d{2}$/) });
      const entries = await send("GET", "/api/v1/ledger/entries?limit=5");
      expect([200, NOT_YET]).toContain(entries.status);
      if (entries.status === 200)
        expect(entries.body).toMatchObject({ data: expect.any(Array), hasMore: expect.any(Boolean) });
    });

    it("manages webhook endpoints: list, get, update, rotate, delete", async () => {
      const made = await send("POST", "/api/v1/webhook-endpoints", {
        body: { url: "http://127.0.0.1:9/other", description: "to delete", eventTypes: ["payout.updated"] },
      });
      expect(made.status).toBe(201);
      expect(made.body.secret).toMatch(/^whsec_/);
      const id = made.body.id as string;
      const steps = [
        await send("GET", "/api/v1/webhook-endpoints?limit=10"),
        await send("GET", `/api/v1/webhook-endpoints/${id}`),
        await send("PATCH", `/api/v1/webhook-endpoints/${id}`, { body: { description: "changed", enabled: false } }),
        // A Content-Type with an empty body is no body.
        await send("POST", `/api/v1/webhook-endpoints/${id}/rotate-secret`, {
          headers: { "content-type": "application/json" },
        }),
        await send("GET", "/api/v1/webhook-messages?limit=10"),
        await send("POST", "/api/v1/webhook-messages/replay-failed", { body: { since: "2020-01-01T00:00:00Z" } }),
        await send("DELETE", `/api/v1/webhook-endpoints/${id}`),
      ];
      for (const step of steps) expect([200, 202, NOT_YET]).toContain(step.status);
      const [list, get, patch, rotate, messages] = steps;
      if (list!.status === 200) expect((list!.body.data as { id: string }[]).map((e) => e.id)).toContain(id);
      if (get!.status === 200) expect(get!.body).toMatchObject({ id, description: "to delete" });
      if (patch!.status === 200) expect(patch!.body).toMatchObject({ id, description: "changed", enabled: false });
      if (rotate!.status === 200) expect(rotate!.body.secret).toMatch(/^whsec_/);
      if (messages!.status === 200) {
        const first = (messages!.body.data as { id: string }[])[0];
        if (first) a.messageId = first.id;
      }
      if (steps[6]!.status === 200) {
        expect((await send("GET", `/api/v1/webhook-endpoints/${id}`)).status).toBe(404);
      }
    });
  });

  it("lists one payout's webhook messages with ?payoutId=, only the key's merchant's", async () => {
    const ofA = await eventually(async () => {
      const res = await send("GET", `/api/v1/webhook-messages?payoutId=${a.payoutId}&limit=100`);
      expect(res.status).toBe(200);
      const data = res.body.data as { subjectId: string; eventType: string }[];
      return data.length > 0 ? data : undefined;
    });
    for (const m of ofA) expect(m).toMatchObject({ subjectId: a.payoutId, eventType: "payout.updated" });
    const other = await send("POST", "/api/v1/payouts", {
      body: payoutBody("1234560001", "messages-other"),
      headers: { "X-IDEMPOTENCY-KEY": "messages-other" },
    });
    const otherId = other.body.id as string;
    const ofOther = await eventually(async () => {
      const data = (await send("GET", `/api/v1/webhook-messages?payoutId=${otherId}`)).body.data as {
        subjectId: string;
      }[];
      return data.length > 0 ? data : undefined;
    });
    expect(ofOther.map((m) => m.subjectId)).toEqual(ofOther.map(() => otherId));
    const again = await send("GET", `/api/v1/webhook-messages?payoutId=${a.payoutId}&limit=100`);
    expect((again.body.data as { subjectId: string }[]).map((m) => m.subjectId)).not.toContain(otherId);
    // Merchant B naming A's payout gets an empty list: never A's messages, never a hint they exist.
    const asB = await send("GET", `/api/v1/webhook-messages?payoutId=${a.payoutId}`, { key: keyB });
    expect(asB.status).toBe(200);
    expect(asB.body).toEqual({ data: [], hasMore: false });
    for (const bad of ["", "po%20x", "po_'%3B--", "x".repeat(65), "../po_x"]) {
      const res = await send("GET", `/api/v1/webhook-messages?payoutId=${bad}`);
      expect(res.status, `payoutId=${bad}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(errorOf(res)).toMatchObject({ code: "invalid_argument", param: "payoutId" });
    }
  });

  describe("admin", () => {
    it("accepts only the admin key, and the admin key is never a merchant key", async () => {
      expect((await send("GET", "/api/v1/admin/merchants")).status).toBe(401);
      expect((await send("GET", "/api/v1/admin/merchants", { key: null })).status).toBe(401);
      expect((await send("GET", "/api/v1/balance", { key: ADMIN_KEY })).status).toBe(401);
      const merchants = await admin("GET", "/api/v1/admin/merchants?limit=100");
      expect(merchants.status).toBe(200);
      expect((merchants.body.data as { id: string }[]).map((m) => m.id)).toEqual(
        expect.arrayContaining(["mch_sandbox", "mch_b"]),
      );
      expect((await admin("POST", "/api/v1/admin/merchants", { id: "mch_b", name: "again" })).status).toBe(409);
      expect((await admin("POST", "/api/v1/admin/merchants/mch_nobody/api-keys")).status).toBe(404);
      const topUp = await admin(
        "POST",
        "/api/v1/admin/merchants/mch_nobody/top-ups",
        { amount: "1.00", currency: "PKR" },
        { "Idempotency-Key": "nobody" },
      );
      expect(topUp.status).toBe(404);
    });

    it("tops up idempotently", async () => {
      const body = { amount: "250.00", currency: "PKR" };
      const first = await admin("POST", "/api/v1/admin/merchants/mch_b/top-ups", body, {
        "Idempotency-Key": "topup-b-2",
      });
      const again = await admin("POST", "/api/v1/admin/merchants/mch_b/top-ups", body, {
        "Idempotency-Key": "topup-b-2",
      });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body.available).toBe(first.body.available);
      const balance = await send("GET", "/api/v1/balance", { key: keyB });
      expect(balance.body.available).toBe(first.body.available);
    });

    it("creates, lists and revokes API keys; a revoked key fails at once", async () => {
      const made = await admin("POST", "/api/v1/admin/merchants/mch_b/api-keys");
      expect(made.status).toBe(201);
      expect(made.body.key).toMatch(/^mypay_test_[0-9a-f]{32}$/);
      const key = made.body.key as string;
      expect((await send("GET", "/api/v1/balance", { key })).status).toBe(200);
      const list = await admin("GET", "/api/v1/admin/api-keys?merchantId=mch_b&limit=100");
      expect(list.status).toBe(200);
      const listed = list.body.data as Record<string, unknown>[];
      expect(listed.map((k) => k.id)).toContain(made.body.id);
      for (const k of listed) expect(k).not.toHaveProperty("key");
      const revoked = await admin("POST", `/api/v1/admin/api-keys/${made.body.id}/revoke`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      expect((await send("GET", "/api/v1/balance", { key })).status).toBe(401);
      expect((await admin("POST", "/api/v1/admin/api-keys/key_nope/revoke")).status).toBe(404);
    });

    it("works the review queue, on-hold payouts and dead letters", async () => {
      const big = await send("POST", "/api/v1/payouts", {
        body: payoutBody("1234560001", "review-1", "150000.00"),
        headers: { "X-IDEMPOTENCY-KEY": "review-1" },
      });
      expect(big.status).toBe(201);
      expect(big.body.status).toBe("IN_REVIEW");
      const queue = await admin("GET", "/api/v1/admin/review-queue?limit=100");
      expect([200, NOT_YET]).toContain(queue.status);
      if (queue.status === 200) expect((queue.body.data as { id: string }[]).map((p) => p.id)).toContain(big.body.id);
      const approved = await admin("POST", `/api/v1/admin/payouts/${big.body.id}/approve`, { reason: "checked" });
      expect([200, NOT_YET]).toContain(approved.status);
      if (approved.status === 200) expect(approved.body.status).not.toBe("IN_REVIEW");
      const rejectNoReason = await admin("POST", `/api/v1/admin/payouts/${big.body.id}/reject`, {});
      expect(rejectNoReason.status).toBe(400);
      expect(errorOf(rejectNoReason).param).toBe("reason");

      const held = await send("POST", "/api/v1/payouts", {
        body: payoutBody("1234560005", "hold-1"),
        headers: { "X-IDEMPOTENCY-KEY": "hold-1" },
      });
      expect(held.status).toBe(201);
      await eventually(async () => {
        const p = await send("GET", `/api/v1/payouts/${held.body.id}`);
        return p.body.status === "ON_HOLD" ? p : undefined;
      });
      const released = await admin("POST", `/api/v1/admin/payouts/${held.body.id}/release-hold`);
      expect([200, NOT_YET]).toContain(released.status);
      const failHold = await admin("POST", `/api/v1/admin/payouts/${held.body.id}/fail-hold`, { reason: "fraud" });
      expect([200, 409, NOT_YET]).toContain(failHold.status);

      const all = await admin("GET", "/api/v1/admin/payouts?merchantId=mch_sandbox&status=ON_HOLD,PENDING");
      expect([200, NOT_YET]).toContain(all.status);
      const dead = await admin("GET", "/api/v1/admin/dead-letters?limit=10");
      expect([200, NOT_YET]).toContain(dead.status);
      const replay = await admin("POST", "/api/v1/admin/dead-letters/replay", { since: "2020-01-01T00:00:00Z" });
      expect([202, NOT_YET]).toContain(replay.status);
    });
  });

  it("keeps merchants apart on every route: B gets 404 for A's objects and never lists them", async () => {
    const asB = (method: string, path: string, body?: unknown) => send(method, path, { key: keyB, body });
    const objectRoutes: [string, string, unknown?][] = [
      ["GET", `/api/v1/payouts/${a.payoutId}`],
      ["POST", `/api/v1/payouts/${a.payoutId}/cancel`],
      ["GET", `/api/v1/payouts/${a.payoutId}/history`],
      ["GET", `/api/v1/webhook-endpoints/${a.endpointId}`],
      ["PATCH", `/api/v1/webhook-endpoints/${a.endpointId}`, { description: "mine now" }],
      ["POST", `/api/v1/webhook-endpoints/${a.endpointId}/rotate-secret`],
      ["DELETE", `/api/v1/webhook-endpoints/${a.endpointId}`],
      ["GET", `/api/v1/webhook-messages/${a.messageId || "msg_of_a"}/attempts`],
      ["POST", `/api/v1/webhook-messages/${a.messageId || "msg_of_a"}/replay`],
    ];
    for (const [method, path, body] of objectRoutes) {
      const res = await asB(method, path, body);
      expect([404, NOT_YET], `${method} ${path} as B`).toContain(res.status);
      // The same answer as for an id that never existed: only an error, nothing of A's object.
      expect(Object.keys(res.body), `${method} ${path} as B`).toEqual(["error"]);
    }
    const lists = [
      "/api/v1/payouts?limit=100",
      "/api/v1/webhook-endpoints?limit=100",
      "/api/v1/webhook-messages?limit=100",
      `/api/v1/webhook-messages?payoutId=${a.payoutId}`,
      "/api/v1/ledger/entries?limit=100",
    ];
    for (const path of lists) {
      const res = await asB("GET", path);
      expect([200, NOT_YET], path).toContain(res.status);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(a.payoutId);
      expect(text).not.toContain(a.endpointId);
    }
    const balance = await asB("GET", "/api/v1/balance");
    expect(balance.body.available).not.toBe((await send("GET", "/api/v1/balance")).body.available);
    const replay = await asB("POST", "/api/v1/webhook-messages/replay-failed", { since: "2020-01-01T00:00:00Z" });
    expect([202, NOT_YET]).toContain(replay.status);
    // B has no messages: replaying "my failed" must not touch A's failing deliveries.
    if (replay.status === 202) expect(replay.body.requeued).toBe(0);
    // A's objects are intact.
    expect((await send("GET", `/api/v1/webhook-endpoints/${a.endpointId}`)).status).not.toBe(404);
    expect((await send("GET", `/api/v1/payouts/${a.payoutId}`)).status).toBe(200);
    // Merchant keys never reach admin routes.
    for (const key of [KEY_A, keyB]) {
      expect((await send("GET", "/api/v1/admin/review-queue", { key })).status).toBe(401);
      expect((await send("POST", `/api/v1/admin/payouts/${a.payoutId}/approve`, { key })).status).toBe(401);
    }
  });

  describe("bad inputs answer 4xx JSON, never 5xx", () => {
    const expect4xx = (res: Sent, what: string, status?: number) => {
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
      if (status) expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(errorOf(res)).toMatchObject({
        type: expect.any(String),
        code: expect.any(String),
        message: expect.any(String),
        requestId: res.headers.get("x-request-id"),
      });
    };

    it("rejects bad payout bodies field by field", async () => {
      const long = "x".repeat(10_240);
      const cases: [string, unknown, number, string?][] = [
        ["malformed JSON", "{not json", 400],
        ["array body", [], 400],
        ["null body", "null", 400],
        ["unknown field", { ...payoutBody("1234560001", "u"), merchantId: "mch_b" }, 400, "merchantId"],
        ["negative amount", payoutBody("1234560001", "n", "-10.00"), 400, "amount"],
        ["negative number amount", payoutBody("1234560001", "n", -10), 400, "amount"],
        ["zero amount", payoutBody("1234560001", "z", "0.00"), 400, "amount"],
        ["zero number", payoutBody("1234560001", "z", 0), 400, "amount"],
        ["huge amount", payoutBody("1234560001", "h", "100000000000000000000"), 400, "amount"],
        ["huge number", payoutBody("1234560001", "h", 1e300), 400, "amount"],
        ["3 decimals", payoutBody("1234560001", "d", "10.001"), 400, "amount"],
        ["3 decimals number", payoutBody("1234560001", "d", 10.001), 400, "amount"],
        ["exponent", payoutBody("1234560001", "e", "1e3"), 400, "amount"],
        ["amount object", payoutBody("1234560001", "o", { value: 1 }), 400, "amount"],
        ["amount bool", payoutBody("1234560001", "b", true), 400, "amount"],
        ["missing amount", { ...payoutBody("1234560001", "m"), amount: undefined }, 400, "amount"],
        ["wrong currency", { ...payoutBody("1234560001", "c"), currency: "XXX" }, 400, "currency"],
        ["currency number", { ...payoutBody("1234560001", "c"), currency: 586 }, 400, "currency"],
        ["empty currency", { ...payoutBody("1234560001", "c"), currency: "" }, 400, "currency"],
        ["wrong destType", { ...payoutBody("1234560001", "t"), destType: "CARD" }, 400, "destType"],
      ];
      for (const field of ["merchantReference", "bankCode", "accountNumber", "accountTitle"]) {
        cases.push([`empty ${field}`, { ...payoutBody("1234560001", "s"), [field]: "" }, 400, field]);
        cases.push([`10 KB ${field}`, { ...payoutBody("1234560001", "s"), [field]: long }, 400, field]);
        cases.push([`number ${field}`, { ...payoutBody("1234560001", "s"), [field]: 12 }, 400, field]);
        cases.push([`missing ${field}`, { ...payoutBody("1234560001", "s"), [field]: undefined }, 400, field]);
      }
      let n = 0;
      for (const [what, body, status, param] of cases) {
        const res = await send("POST", "/api/v1/payouts", { body, headers: { "X-IDEMPOTENCY-KEY": `bad-${n++}` } });
        expect4xx(res, what, status);
        if (param) expect(errorOf(res).param, what).toBe(param);
      }
      const noKey = await send("POST", "/api/v1/payouts", { body: payoutBody("1234560001", "k") });
      expect4xx(noKey, "missing idempotency key", 400);
      const longKey = await send("POST", "/api/v1/payouts", {
        body: payoutBody("1234560001", "k"),
        headers: { "X-IDEMPOTENCY-KEY": long.slice(0, 4000) },
      });
      expect4xx(longKey, "long idempotency key", 400);
      const over = await send("POST", "/api/v1/payouts", {
        body: payoutBody("1234560001", "over", "20000000.00"),
        headers: { "X-IDEMPOTENCY-KEY": "over-max" },
      });
      expect4xx(over, "over the maximum");
      const broke = await send("POST", "/api/v1/payouts", {
        body: payoutBody("1234560001", "broke", "9000.00"),
        headers: { "X-IDEMPOTENCY-KEY": "broke" },
        key: keyB,
      });
      expect4xx(broke, "insufficient funds", 422);
    });

    it("rejects bad requests on every route", async () => {
      const spec = (await (await fetch(`${mesh.gatewayUrl}/openapi.json`)).json()) as {
        paths: Record<
          string,
          Record<
            string,
            { requestBody?: unknown; security: Record<string, unknown>[]; parameters: { name?: string }[] }
          >
        >;
      };
      const long = "y".repeat(10_240);
      const invalidUtf8 = Buffer.concat([Buffer.from('{"url":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      let checked = 0;
      for (const [pattern, methods] of Object.entries(spec.paths)) {
        for (const [lower, op] of Object.entries(methods)) {
          const method = lower.toUpperCase();
          const isAdmin = "AdminKey" in (op.security[0] ?? {});
          const key = isAdmin ? ADMIN_KEY : KEY_A;
          const path = pattern.replace("{id}", "obj_bad_input");
          const headers = { "X-IDEMPOTENCY-KEY": `bad-route-${checked}` };
          const what = (s: string) => `${method} ${pattern}: ${s}`;
          expect4xx(await send(method, path, { key: null, headers }), what("no key"), 401);
          expect4xx(await send(method, path, { key: "mypay_test_unknown_key", headers }), what("unknown key"), 401);
          expect4xx(await send(method, path, { key: long.slice(0, 4000), headers }), what("long key"), 401);
          if (op.parameters.some((p) => p.name === "limit")) {
            expect4xx(await send(method, `${path}?limit=abc`, { key, headers }), what("bad limit"), 400);
            expect4xx(await send(method, `${path}?limit=1000`, { key, headers }), what("limit too large"), 400);
          }
          if (pattern.includes("{id}")) {
            expect4xx(
              await send(method, pattern.replace("{id}", "%E0%A4%A"), { key, headers }),
              what("bad escape"),
              400,
            );
            expect4xx(await send(method, pattern.replace("{id}", long), { key, headers }), what("10 KB id"), 404);
          }
          if (op.requestBody) {
            const bodies: [string, unknown, Record<string, string>?][] = [
              ["malformed JSON", "{", undefined],
              ["wrong content type", "{}", { "content-type": "text/plain" }],
              ["form content type", "a=1", { "content-type": "application/x-www-form-urlencoded" }],
              ["invalid UTF-8", invalidUtf8, undefined],
              ["huge body", { pad: "z".repeat(MAX_BODY_BYTES + 1) }, undefined],
              ["unknown field", { surprise: true }, undefined],
              ["array", [1, 2], undefined],
              ["string", '"text"', undefined],
              [
                "10 KB strings",
                { url: long, reason: long, name: long, description: long, since: long, merchantId: long },
                undefined,
              ],
              [
                "wrong types",
                { url: 1, reason: 2, name: 3, amount: [], currency: {}, enabled: "yes", since: 5 },
                undefined,
              ],
            ];
            for (const [label, body, extra] of bodies) {
              const res = await send(method, path, { key, body, headers: { ...headers, ...extra } });
              expect4xx(res, what(label));
              if (label === "huge body") expect(res.status).toBe(413);
              if (label.endsWith("content type")) expect(res.status).toBe(415);
            }
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(31);
      expect4xx(await send("PUT", "/api/v1/payouts"), "unknown method", 405);
      expect4xx(await send("GET", "/api/v2/payouts"), "unknown route", 404);
      expect4xx(await send("GET", "/api/v1/payouts?status=BOGUS"), "bad status", 400);
      expect4xx(await send("GET", `/api/v1/payouts?startingAfter=${long}`), "long cursor", 400);
      expect4xx(await send("GET", "/api/v1/balance?currency=pk"), "bad currency", 400);
    });

    it("never answered 5xx and labels metrics by route pattern", async () => {
      const text = await (await fetch(`${mesh.gatewayUrl}/metrics`)).text();
      const lines = text.split("\n").filter((l) => l.startsWith("http_requests_total{"));
      expect(lines.some((l) => l.includes('route="/api/v1/payouts/{id}"'))).toBe(true);
      expect(lines.some((l) => l.includes(a.payoutId))).toBe(false);
      expect(lines.filter((l) => /status="5\d\d"/.test(l) && !/status="501"/.test(l))).toEqual([]);
      expect(text).toContain("http_request_duration_seconds_bucket{");
      expect(text).toMatch(/^# TYPE gateway_rate_limited_total counter/m);
    });
  });
});
