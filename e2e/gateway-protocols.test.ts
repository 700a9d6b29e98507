import { resolve } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { NotifierService } from "@mypay/proto/mypay/notifier/v1/notifier";
import {
  DestinationType,
  PayoutAdminService,
  PayoutBatchService,
  PayoutService,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningMesh, startMesh } from "./mesh.ts";

const API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const protoDir = resolve(import.meta.dirname, "../proto");
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

const loadOptions = { includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true };

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => void;

/** Calls a unary method of a grpc-js client built from proto-loader (not our generated code). */
function unary<T>(client: grpc.Client, method: string, request: object, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((done, fail) => {
    const fn = (client as unknown as Record<string, Unary>)[method]!;
    fn.call(client, request, metadata, { deadline: Date.now() + 5000 }, (err, res) =>
      err ? fail(err) : done(res as T),
    );
  });
}

function keyMetadata(key: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("x-api-key", key);
  return md;
}

const createRequest = (idempotencyKey: string) => ({
  idempotencyKey,
  merchantReference: idempotencyKey,
  amount: { currency: "PKR", minorUnits: 12_345n },
  destType: DestinationType.BANK,
  bankCode: "HBL",
  accountNumber: "1234560004",
  accountTitle: "Ali Khan",
});

describe(`gateway protocols on ${engine}`, () => {
  let mesh: RunningMesh;
  let address: string;
  let otherKey: string;

  beforeAll(async () => {
    mesh = await startMesh(storage, { BANK_DELAY_MS: "0" });
    address = mesh.gatewayUrl.replace("http://", "");
    const admin = { "x-api-key": ADMIN_KEY, "content-type": "application/json" };
    const made = await fetch(`${mesh.gatewayUrl}/api/v1/admin/merchants`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ id: "mch_other_rpc", name: "Other" }),
    });
    expect(made.status).toBe(201);
    const key = await fetch(`${mesh.gatewayUrl}/api/v1/admin/merchants/mch_other_rpc/api-keys`, {
      method: "POST",
      headers: { "x-api-key": ADMIN_KEY },
    });
    otherKey = ((await key.json()) as { key: string }).key;
  }, 90_000);

  afterAll(async () => {
    const code = await mesh?.stop();
    if (code !== 0) console.error(mesh?.output.slice(-30).join("\n"));
    await dropTestDatabases(storage);
    expect(code).toBe(0);
  });

  const transports: [string, () => Transport][] = [
    [
      "Connect JSON over HTTP/1.1",
      () => createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    ["Connect binary over HTTP/2", () => createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" })],
    ["gRPC-Web over HTTP/2", () => createGrpcWebTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" })],
  ];

  for (const [name, transport] of transports) {
    it(`creates and reads a payout with ${name}, bound to the key's merchant`, async () => {
      const client = createClient(PayoutService, transport());
      const headers = { "x-api-key": API_KEY };
      const key = `proto-${name.replace(/\W+/g, "-")}`;
      const created = await client.createPayout(createRequest(key), { headers });
      expect(created.payout?.id).toMatch(/^po_/);
      expect(created.replayed).toBe(false);
      const replay = await client.createPayout(createRequest(key), { headers });
      expect(replay).toMatchObject({ replayed: true, payout: { id: created.payout?.id } });
      const got = await client.getPayout({ id: created.payout!.id }, { headers });
      expect(got.payout?.amount?.minorUnits).toBe(12_345n);
      // Another merchant's key never sees it, and names no merchant of its own.
      await expect(
        client.getPayout({ id: created.payout!.id }, { headers: { "x-api-key": otherKey } }),
      ).rejects.toMatchObject({
        code: Code.NotFound,
      });
      await expect(client.getPayout({ id: created.payout!.id })).rejects.toMatchObject({ code: Code.Unauthenticated });
    });
  }

  it("takes the idempotency key from metadata and echoes the request id", async () => {
    const client = createClient(PayoutService, createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" }));
    let echoed: string | null = null;
    const created = await client.createPayout(
      { ...createRequest(""), merchantReference: "from-metadata" },
      {
        headers: { "x-api-key": API_KEY, "idempotency-key": "proto-metadata-key", "x-request-id": "req-proto-1" },
        onHeader: (h) => {
          echoed = h.get("x-request-id");
        },
      },
    );
    expect(created.payout?.id).toMatch(/^po_/);
    expect(echoed).toBe("req-proto-1");
  });

  it("does not expose internal services", async () => {
    const transport = createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" });
    const headers = { "x-api-key": API_KEY };
    const ledger = createClient(LedgerService, transport);
    await expect(
      ledger.topUp(
        { merchantId: "mch_sandbox", amount: { currency: "PKR", minorUnits: 1n }, idempotencyKey: "x" },
        { headers },
      ),
    ).rejects.toSatisfy((e) => e instanceof ConnectError && e.code !== Code.Unknown && e.code !== Code.Internal);
    await expect(ledger.getBalance({ merchantId: "mch_sandbox", currency: "PKR" }, { headers })).rejects.toBeInstanceOf(
      ConnectError,
    );
    const admin = createClient(PayoutAdminService, transport);
    await expect(admin.listAllPayouts({}, { headers: { "x-api-key": ADMIN_KEY } })).rejects.toBeInstanceOf(
      ConnectError,
    );
    const notifier = createClient(NotifierService, transport);
    await expect(notifier.listDeadLetters({}, { headers })).rejects.toBeInstanceOf(ConnectError);
    // The coalesced-read service trusts its merchant header: a client naming a merchant must not reach it.
    const batch = createClient(PayoutBatchService, transport);
    await expect(
      batch.batchGetPayouts({ ids: ["po_any"] }, { headers: { ...headers, "mypay-merchant-id": "mch_sandbox" } }),
    ).rejects.toBeInstanceOf(ConnectError);
  });

  it("serves grpc-js clients built with proto-loader, and grpc.health.v1", async () => {
    const pkg = grpc.loadPackageDefinition(
      protoLoader.loadSync(["mypay/payouts/v1/payouts.proto", "grpc/health/v1/health.proto"], loadOptions),
    ) as unknown as {
      mypay: { payouts: { v1: { PayoutService: grpc.ServiceClientConstructor } } };
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const payouts = new pkg.mypay.payouts.v1.PayoutService(address, grpc.credentials.createInsecure());
    const health = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
    try {
      const created = await unary<{ payout: { id: string; status: string } }>(
        payouts,
        "CreatePayout",
        {
          idempotency_key: "proto-grpc-js",
          merchant_reference: "grpc-js",
          amount: { currency: "PKR", minor_units: "5000" },
          dest_type: "DESTINATION_TYPE_BANK",
          bank_code: "HBL",
          account_number: "1234560004",
          account_title: "Sara",
        },
        keyMetadata(API_KEY),
      );
      expect(created.payout.id).toMatch(/^po_/);
      await expect(unary(payouts, "GetPayout", { id: created.payout.id }, keyMetadata(otherKey))).rejects.toMatchObject(
        { code: grpc.status.NOT_FOUND },
      );
      await expect(unary(payouts, "GetPayout", { id: created.payout.id })).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
      expect(await unary(health, "Check", { service: "" })).toMatchObject({ status: "SERVING" });
    } finally {
      payouts.close();
      health.close();
    }
  });

  describe("gRPC server reflection v1", () => {
    type ReflectionResponse = {
      list_services_response?: { service: { name: string }[] };
      file_descriptor_response?: { file_descriptor_proto: Buffer[] };
      error_response?: { error_code: number; error_message: string };
    };
    /** Sends reflection requests on one bidi stream, as grpcurl does, and collects the answers. */
    const reflect = async (requests: object[]): Promise<ReflectionResponse[]> => {
      const pkg = grpc.loadPackageDefinition(
        protoLoader.loadSync("grpc/reflection/v1/reflection.proto", loadOptions),
      ) as unknown as {
        grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
      };
      const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
      try {
        const stream = (
          client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }
        ).ServerReflectionInfo();
        const answers: ReflectionResponse[] = [];
        const ended = new Promise<void>((done, fail) => {
          stream.on("data", (r: ReflectionResponse) => answers.push(r));
          stream.on("end", done);
          stream.on("error", fail);
        });
        for (const r of requests) stream.write({ host: "", ...r });
        stream.end();
        await ended;
        return answers;
      } finally {
        client.close();
      }
    };
    const fileNames = (r: ReflectionResponse) =>
      (r.file_descriptor_response?.file_descriptor_proto ?? []).map(
        (b) => fromBinary(FileDescriptorProtoSchema, b).name,
      );

    it("lists exactly the public services", async () => {
      const [list] = await reflect([{ list_services: "" }]);
      expect(list?.list_services_response?.service.map((s) => s.name).sort()).toEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "mypay.ledger.v1.BalanceService",
        "mypay.notifier.v1.WebhookEndpointService",
        "mypay.payouts.v1.PayoutService",
      ]);
    });

    it("answers file_containing_symbol and file_by_filename with dependencies, and NOT_FOUND for unknowns", async () => {
      const [service, method, message, byName, unknown] = await reflect([
        { file_containing_symbol: "mypay.payouts.v1.PayoutService" },
        { file_containing_symbol: "mypay.ledger.v1.BalanceService.GetMyBalance" },
        { file_containing_symbol: "mypay.common.v1.Money" },
        { file_by_filename: "mypay/notifier/v1/notifier.proto" },
        { file_containing_symbol: "mypay.ledger.v1.Nope" },
      ]);
      expect(fileNames(service!)).toEqual(
        expect.arrayContaining([
          "mypay/payouts/v1/payouts.proto",
          "mypay/common/v1/money.proto",
          "mypay/common/v1/paging.proto",
          "google/protobuf/timestamp.proto",
        ]),
      );
      expect(fileNames(service!)[0]).toBe("mypay/payouts/v1/payouts.proto");
      expect(fileNames(method!)[0]).toBe("mypay/ledger/v1/ledger.proto");
      expect(fileNames(message!)[0]).toBe("mypay/common/v1/money.proto");
      expect(fileNames(byName!)).toEqual(
        expect.arrayContaining(["mypay/notifier/v1/notifier.proto", "mypay/common/v1/paging.proto"]),
      );
      expect(unknown?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
    });

    it("is enough to call the API knowing only a service name, like grpcurl", async () => {
      const [answer] = await reflect([{ file_containing_symbol: "mypay.payouts.v1.PayoutService" }]);
      const set = create(FileDescriptorSetSchema, {
        file: answer!.file_descriptor_response!.file_descriptor_proto.map((b) =>
          fromBinary(FileDescriptorProtoSchema, b),
        ),
      });
      const definition = protoLoader.loadFileDescriptorSetFromBuffer(
        Buffer.from(toBinary(FileDescriptorSetSchema, set)),
        loadOptions,
      );
      const pkg = grpc.loadPackageDefinition(definition) as unknown as {
        mypay: { payouts: { v1: { PayoutService: grpc.ServiceClientConstructor } } };
      };
      const client = new pkg.mypay.payouts.v1.PayoutService(address, grpc.credentials.createInsecure());
      try {
        await expect(unary(client, "GetPayout", { id: "po_missing" }, keyMetadata(API_KEY))).rejects.toMatchObject({
          code: grpc.status.NOT_FOUND,
        });
      } finally {
        client.close();
      }
    });
  });
});
