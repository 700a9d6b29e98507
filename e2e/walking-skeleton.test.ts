import { resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { verifyWebhook } from "@mypay/sdk";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type RunningMesh, startMesh, startReceiver } from "./mesh.ts";

const API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

const seedBody = (accountNumber: string, reference: string) => ({
  merchantReference: reference,
  amount: 1000,
  currency: "PKR",
  destType: "BANK",
  bankCode: "HBL",
  accountNumber,
  accountTitle: "Ali Khan",
});

describe(`walking skeleton on ${engine}`, () => {
  let mesh: RunningMesh;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secret: string;
  const startedAt = Date.now();
  let startupMs = 0;

  const api = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set("x-api-key", init.key ?? API_KEY);
    return fetch(`${mesh.gatewayUrl}${path}`, { ...init, headers });
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    api(path, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json", ...headers },
    });
  const payoutStatus = async (id: string) =>
    (await (await api(`/api/v1/payouts/${id}`)).json()) as Record<string, unknown>;
  const balance = async () => (await (await api("/api/v1/balance")).json()) as Record<string, string>;

  beforeAll(async () => {
    receiver = await startReceiver();
    mesh = await startMesh(storage, { BANK_DELAY_MS: "1000" });
    startupMs = Date.now() - startedAt;
    const res = await post("/api/v1/webhook-endpoints", { url: receiver.url });
    expect(res.status).toBe(201);
    const endpoint = (await res.json()) as { id: string; secret: string };
    expect(endpoint.secret).toMatch(/^whsec_/);
    secret = endpoint.secret;
  }, 90_000);

  afterAll(async () => {
    const code = await mesh?.stop();
    await receiver?.close();
    await dropTestDatabases(storage);
    expect(code).toBe(0);
  });

  it("creates a payout over REST, locks the funds, settles it and signs the webhook", async () => {
    console.log(`[e2e] mesh ready ${startupMs} ms after launch on ${engine}`);
    expect(await balance()).toEqual({
      currency: "PKR",
      balance: "1000000.00",
      locked: "0.00",
      available: "1000000.00",
    });

    const t0 = Date.now();
    const res = await post("/api/v1/payouts", seedBody("1234560001", "order-1"), { "X-IDEMPOTENCY-KEY": "e2e-rest-1" });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const created = (await res.json()) as { id: string; status: string; amount: string };
    expect(created).toMatchObject({ status: "PENDING", amount: "1000.00" });
    const createMs = Date.now() - t0;

    // The bank takes 1 s: the hold is visible meanwhile.
    expect(await balance()).toMatchObject({ balance: "1000000.00", locked: "1000.00", available: "999000.00" });

    const replay = await post("/api/v1/payouts", seedBody("1234560001", "order-1"), {
      "X-IDEMPOTENCY-KEY": "e2e-rest-1",
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as { id: string }).id).toBe(created.id);

    const settled = await eventually(async () => {
      const p = await payoutStatus(created.id);
      return p.status === "SUCCESS" ? p : undefined;
    });
    const finalMs = Date.now() - t0;
    expect(settled.pspReference).toMatch(/^PSP/);
    expect(settled.processedAt).toBeTruthy();
    expect(settled.amount).toBe("1000.00");

    await eventually(async () => {
      const b = await balance();
      return b.locked === "0.00" ? b : undefined;
    });
    expect(await balance()).toMatchObject({ balance: "999000.00", locked: "0.00", available: "999000.00" });

    const hook = await eventually(async () =>
      receiver.received.find((w) => w.body.includes(created.id) && w.body.includes('"SUCCESS"')),
    );
    const webhookMs = Date.now() - t0;
    const verified = new Webhook(secret).verify(hook.body, {
      "webhook-id": String(hook.headers["webhook-id"]),
      "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
      "webhook-signature": String(hook.headers["webhook-signature"]),
    }) as Record<string, unknown>;
    expect(verified).toMatchObject({
      type: "payout.updated",
      event: "payout.updated",
      payoutId: created.id,
      status: "SUCCESS",
      pspReference: settled.pspReference,
    });
    expect(verified.timestamp).toEqual(expect.any(String));
    expect(await verifyWebhook(hook.body, hook.headers as Record<string, string>, secret)).toEqual(verified);
    expect(verified.data).toMatchObject({ id: created.id, status: "SUCCESS", amount: "1000.00" });
    console.log(`[e2e] create ${createMs} ms, SUCCESS after ${finalMs} ms, webhook after ${webhookMs} ms`);
  });

  it("creates and reads a payout over gRPC with a client we did not generate", async () => {
    const definition = protoLoader.loadSync(resolve(import.meta.dirname, "../proto/mypay/payouts/v1/payouts.proto"), {
      includeDirs: [resolve(import.meta.dirname, "../proto")],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      mypay: { payouts: { v1: { PayoutService: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.mypay.payouts.v1.PayoutService(
      mesh.gatewayUrl.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const call = <T>(method: string, request: object, metadata: grpc.Metadata) =>
      new Promise<T>((done, fail) => {
        const fn = client[method] as (
          r: object,
          m: grpc.Metadata,
          o: grpc.CallOptions,
          cb: grpc.requestCallback<T>,
        ) => void;
        fn.call(client, request, metadata, { deadline: Date.now() + 5000 }, (err, res) =>
          err ? fail(err) : done(res!),
        );
      });
    const metadata = new grpc.Metadata();
    metadata.set("x-api-key", API_KEY);
    try {
      const created = await call<{ payout: { id: string; status: string } }>(
        "CreatePayout",
        {
          idempotency_key: "e2e-grpc-1",
          merchant_reference: "order-grpc",
          amount: { currency: "PKR", minor_units: "250000" },
          dest_type: "DESTINATION_TYPE_BANK",
          bank_code: "HBL",
          account_number: "9876540001",
          account_title: "Sara",
        },
        metadata,
      );
      expect(created.payout.status).toBe("PAYOUT_STATUS_PENDING");
      const settled = await eventually(async () => {
        const got = await call<{ payout: { status: string; psp_reference: string; amount: { minor_units: string } } }>(
          "GetPayout",
          { id: created.payout.id },
          metadata,
        );
        return got.payout.status === "PAYOUT_STATUS_SUCCESS" ? got.payout : undefined;
      });
      expect(settled.psp_reference).toMatch(/^PSP/);
      expect(settled.amount.minor_units).toBe("250000");

      const anonymous = call("GetPayout", { id: created.payout.id }, new grpc.Metadata());
      await expect(anonymous).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    } finally {
      client.close();
    }
  });

  it("answers bad input with JSON errors, never a 500", async () => {
    const expectError = async (res: Response, status: number, param?: string) => {
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: Record<string, string> };
      expect(body.error).toMatchObject({
        code: expect.any(String),
        message: expect.any(String),
        requestId: expect.any(String),
      });
      if (param) expect(body.error.param).toBe(param);
      return body.error;
    };
    await expectError(await api("/api/v1/balance", { key: null }), 401);
    await expectError(await api("/api/v1/balance", { key: "mypay_test_nope" }), 401);
    await expectError(await post("/api/v1/payouts", seedBody("1234560001", "x")), 400, "X-IDEMPOTENCY-KEY");
    await expectError(await post("/api/v1/payouts", "{not json", { "X-IDEMPOTENCY-KEY": "bad-1" }), 400);
    await expectError(
      await post("/api/v1/payouts", { ...seedBody("1234560001", "x"), amount: true }, { "X-IDEMPOTENCY-KEY": "bad-2" }),
      400,
      "amount",
    );
    await expectError(
      await post(
        "/api/v1/payouts",
        { ...seedBody("1234560001", "x"), amount: "10.001" },
        { "X-IDEMPOTENCY-KEY": "bad-3" },
      ),
      400,
      "amount",
    );
    await expectError(
      await post("/api/v1/payouts", { ...seedBody("12ab", "x") }, { "X-IDEMPOTENCY-KEY": "bad-4" }),
      400,
      "accountNumber",
    );
    await expectError(await api("/api/v1/payouts/po_doesnotexist"), 404);
    const idem = await post("/api/v1/payouts", seedBody("1234560001", "order-1-other"), {
      "X-IDEMPOTENCY-KEY": "e2e-rest-1",
    });
    await expectError(idem, 422);
  });
});
