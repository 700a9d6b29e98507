import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { dropTestDatabases, hasExited, testStorage } from "@mypay/kit";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { eventually, type RunningMesh, startMesh, startReceiver } from "../../e2e/mesh.ts";
import { MyPay, type TransportName } from "./client.ts";
import {
  AuthenticationError,
  IdempotencyError,
  InsufficientFundsError,
  InvalidRequestError,
  MyPayError,
  NotFoundError,
} from "./errors.ts";
import { isPayoutUpdatedEvent } from "./events.ts";
import { verifyWebhook } from "./webhooks.ts";

/**
 * The SDK against the real mesh (all four services as processes): one payout per transport, the typed
 * errors the gateway really sends, a notifier-signed webhook, and the CLI's `listen`. Anything the
 * gateway does not serve yet is skipped with a loud message instead of failing.
 *
 * Then the published artefact, as a merchant gets it: build, `npm pack`, unpack into throwaway ESM and
 * CJS projects with no workspace links (their dependencies are linked from the repo's node_modules, as an
 * offline install would place them), and run a script in each against the same mesh.
 */
const API_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const TRANSPORTS: TransportName[] = ["rest", "connect", "grpc-web", "grpc"];
const storage = testStorage();
let mesh: RunningMesh;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let secret = "";
const clients: MyPay[] = [];
const children: ChildProcess[] = [];
const sdkDir = resolve(import.meta.dirname, "..");
const root = resolve(sdkDir, "..");
const work = mkdtempSync(join(tmpdir(), "mypay-sdk-pack-"));
// Async: the consumers run while this process keeps receiving the mesh's webhooks.
const run = promisify(execFile);
const DEPENDENCIES = ["@bufbuild", "@connectrpc", "commander", "picocolors"];
let tarball = "";

const sdk = (transport: TransportName, apiKey = API_KEY) => {
  const client = new MyPay({ apiKey, baseUrl: mesh.gatewayUrl, transport, retryBaseDelayMs: 50 });
  clients.push(client);
  return client;
};

const payoutParams = (reference: string, amount = "1000.00", accountNumber = "1234560001") => ({
  amount,
  currency: "PKR",
  merchantReference: reference,
  bankCode: "HBL",
  accountNumber,
  accountTitle: "Ali Khan",
});

/** Skips (loudly) when the gateway does not serve this call yet; rethrows anything else. */
function skipIfUnserved(ctx: TestContext, what: string, err: unknown): never {
  if (err instanceof MyPayError && (err.rpcCode === "unimplemented" || err.code === "ROUTE_NOT_FOUND")) {
    console.warn(`\n!!! [sdk mesh] SKIPPED ${what}: the gateway does not serve it yet (${err.code}: ${err.message})\n`);
    ctx.skip();
  }
  throw err;
}

const CONSUMER = (load: string) => `${load}
async function main() {
  const [baseUrl, transport, hookFile] = process.argv.slice(2);
  const mypay = new sdk.MyPay({ apiKey: "${API_KEY}", baseUrl, transport, maxRetries: 0 });
  const payout = await mypay.payouts.create({
    amount: "1000.00", currency: "PKR", merchantReference: "pack-" + transport + "-" + Date.now(),
    bankCode: "HBL", accountNumber: "1234560001", accountTitle: "Ali Khan",
  });
  const fetched = await mypay.payouts.get(payout.id);
  const missing = await mypay.payouts.get("po_missing").catch((e) => e);
  await mypay.close();
  const hook = JSON.parse(readFileSync(hookFile, "utf8"));
  const verified = await sdk.verifyWebhook(hook.body, hook.headers, hook.secret);
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const server = await testing.createWebhookTestServer({ secret });
  const body = JSON.stringify(sdk.webhookFixture("payout.success", { "data.id": payout.id }));
  await fetch(server.url, { method: "POST", body, headers: await sdk.generateTestHeaders(body, secret) });
  const { event } = await server.next();
  await server.close();
  console.log(JSON.stringify({
    payout: payout.id, amount: payout.amount, fetched: fetched.id, verified: verified.type, fixture: event.data.id,
    notFound: missing instanceof sdk.NotFoundError && missing instanceof sdk.MyPayError,
  }));
}
`;

const TYPED = (load: string) => `${load}
const mypay: MyPay = new MyPay({ apiKey: "k", transport: "grpc-web" });
const payout: Promise<Payout> = mypay.payouts.create({
  amount: "1.00", currency: "PKR", merchantReference: "r", bankCode: "HBL", accountNumber: "1", accountTitle: "t",
});
const event: Promise<PayoutUpdatedEvent> = verifyWebhook("{}", {}, "whsec_x");
const server: Promise<{ url: string }> = createWebhookTestServer({ secret: "whsec_x" });
export { payout, event, server };
`;

function consumer(kind: "esm" | "cjs"): string {
  const dir = join(work, `consumer-${kind}`);
  mkdirSync(join(dir, "node_modules", "@mypay", "sdk"), { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: `consumer-${kind}`, private: true, type: kind === "esm" ? "module" : "commonjs" }),
  );
  execFileSync("tar", ["-xzf", tarball, "-C", join(dir, "node_modules", "@mypay", "sdk"), "--strip-components=1"]);
  for (const dep of DEPENDENCIES) symlinkSync(join(root, "node_modules", dep), join(dir, "node_modules", dep));
  symlinkSync(join(root, "node_modules", "@types"), join(dir, "node_modules", "@types"));
  if (kind === "esm") {
    writeFileSync(
      join(dir, "index.js"),
      `${CONSUMER('import { readFileSync } from "node:fs";\nimport * as sdk from "@mypay/sdk";\nimport * as testing from "@mypay/sdk/testing";')}await main();\n`,
    );
    writeFileSync(
      join(dir, "typed.ts"),
      TYPED(
        'import { MyPay, type Payout, type PayoutUpdatedEvent, verifyWebhook } from "@mypay/sdk";\nimport { createWebhookTestServer } from "@mypay/sdk/testing";',
      ),
    );
  } else {
    writeFileSync(
      join(dir, "index.js"),
      `${CONSUMER('const { readFileSync } = require("node:fs");\nconst sdk = require("@mypay/sdk");\nconst testing = require("@mypay/sdk/testing");')}main().catch((e) => { console.error(e); process.exit(1); });\n`,
    );
    writeFileSync(
      join(dir, "typed.ts"),
      TYPED(
        'import { MyPay, type Payout, type PayoutUpdatedEvent, verifyWebhook } from "@mypay/sdk";\nimport { createWebhookTestServer } from "@mypay/sdk/testing";',
      ),
    );
  }
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        types: ["node"],
        lib: ["es2023", "dom"],
      },
      files: ["typed.ts"],
    }),
  );
  return dir;
}

/** Builds the package and packs it, as a release would. */
function pack(): string {
  execFileSync(process.execPath, [join(sdkDir, "scripts", "build.ts")], { stdio: "pipe", timeout: 120_000 });
  const [packed] = JSON.parse(
    execFileSync("npm", ["pack", join(sdkDir, "dist"), "--pack-destination", work, "--json"], {
      encoding: "utf8",
      timeout: 60_000,
    }),
  ) as { filename: string }[];
  return join(work, packed!.filename);
}

beforeAll(async () => {
  receiver = await startReceiver();
  mesh = await startMesh(storage, { BANK_DELAY_MS: "0" });
  const endpoint = await sdk("rest").webhookEndpoints.create({ url: receiver.url, eventTypes: ["payout.updated"] });
  expect(endpoint.secret).toMatch(/^whsec_/);
  secret = endpoint.secret;
}, 120_000);

afterAll(async () => {
  for (const child of children) if (!hasExited(child)) child.kill("SIGKILL");
  await Promise.all(clients.map((c) => c.close()));
  const code = await mesh?.stop();
  await receiver?.close();
  await dropTestDatabases(storage);
  rmSync(work, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe("the SDK against the running mesh", () => {
  it.for(TRANSPORTS)("creates, replays and reads a payout over %s", async (transport, ctx) => {
    const mypay = sdk(transport);
    const key = `sdk-mesh-${transport}-${Date.now()}`;
    let created: Awaited<ReturnType<MyPay["payouts"]["create"]>>;
    try {
      created = await mypay.payouts.create(payoutParams(key), { idempotencyKey: key });
    } catch (err) {
      skipIfUnserved(ctx, `payouts.create over ${transport}`, err);
    }
    expect(created).toMatchObject({ status: "PENDING", amount: "1000.00", currency: "PKR", merchantReference: key });
    const replayed = await mypay.payouts.create(payoutParams(key), { idempotencyKey: key });
    expect(replayed.id).toBe(created.id);
    expect((await mypay.payouts.get(created.id)).id).toBe(created.id);
    const settled = await eventually(async () => {
      const p = await mypay.payouts.get(created.id);
      return p.status === "SUCCESS" ? p : undefined;
    });
    expect(settled.pspReference).toMatch(/^PSP/);
    try {
      const balance = await mypay.balance.get();
      expect(balance.currency).toBe("PKR");
      expect(balance.balance).toMatch(/^\d+\.\d{2}$/);
    } catch (err) {
      skipIfUnserved(ctx, `balance.get over ${transport}`, err);
    }
  });

  it.for(TRANSPORTS)("throws the gateway's errors as typed errors over %s", async (transport, ctx) => {
    const mypay = sdk(transport);
    try {
      await expect(mypay.payouts.get("po_does_not_exist")).rejects.toBeInstanceOf(NotFoundError);
    } catch (err) {
      skipIfUnserved(ctx, `payouts.get over ${transport}`, err);
    }
    await expect(sdk(transport, "mypay_test_wrong").payouts.get("po_x")).rejects.toBeInstanceOf(AuthenticationError);
    const poor = await mypay.payouts.create(payoutParams("too-much", "5000000.00")).catch((e: unknown) => e);
    expect(poor).toBeInstanceOf(InsufficientFundsError);
    expect((poor as MyPayError).requestId).toBeTruthy();
    const key = `sdk-mismatch-${transport}-${Date.now()}`;
    await mypay.payouts.create(payoutParams(key), { idempotencyKey: key });
    await expect(mypay.payouts.create(payoutParams(key, "2000.00"), { idempotencyKey: key })).rejects.toBeInstanceOf(
      IdempotencyError,
    );
    const invalid = await mypay.payouts.create({ ...payoutParams("bad-bank"), bankCode: "" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect((invalid as InvalidRequestError).param).toBe("bankCode");
  });

  it("lists payouts page by page and reads a payout's history", async (ctx) => {
    const mypay = sdk("connect");
    try {
      const pages = [];
      for await (const page of mypay.payouts.list({ limit: 2 })) {
        pages.push(page);
        if (pages.length === 2) break;
      }
      expect(pages[0]!.data.length).toBeGreaterThan(0);
      const first = pages[0]!.data[0]!;
      const history = await mypay.payouts.history(first.id);
      expect(history.length).toBeGreaterThan(0);
      expect(history[0]!.from).toBeNull();
    } catch (err) {
      skipIfUnserved(ctx, "payouts.list/history over connect", err);
    }
  });

  it("verifies the notifier's signed webhooks with the SDK and with standardwebhooks", async () => {
    const hook = await eventually(async () => receiver.received.find((h) => JSON.parse(h.body).status === "SUCCESS"));
    const headers = hook.headers as Record<string, string>;
    const event = await verifyWebhook(hook.body, headers, secret);
    expect(isPayoutUpdatedEvent(event)).toBe(true);
    expect(event.data.amount).toBe("1000.00");
    expect(new Webhook(secret).verify(hook.body, headers)).toEqual(event);
    await expect(verifyWebhook(hook.body.replace("1000.00", "9000.00"), headers, secret)).rejects.toThrow(
      /no signature matches/,
    );
  });

  it.for(TRANSPORTS)("lists one payout's webhook messages over %s", async (transport) => {
    const mypay = sdk(transport);
    const payout = await mypay.payouts.create(payoutParams(`sdk-messages-${transport}-${Date.now()}`));
    const hook = await eventually(async () =>
      receiver.received.find(
        (h) => JSON.parse(h.body).payoutId === payout.id && JSON.parse(h.body).status === "SUCCESS",
      ),
    );
    const messages = await mypay.webhookEndpoints.messages({ payoutId: payout.id, limit: 2 }).toArray();
    expect(messages.map((m) => m.id)).toContain(hook.headers["webhook-id"]);
    for (const m of messages) expect(m).toMatchObject({ subjectId: payout.id, eventType: "payout.updated" });
    expect(await mypay.webhookEndpoints.messages({ payoutId: "po_never_existed_000000000" }).toArray()).toEqual([]);
    await expect(mypay.webhookEndpoints.messages({ payoutId: "po_?" }).firstPage()).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  });

  it("mypay-webhooks replay redelivers a message with the same webhook-id", async (ctx) => {
    const hook = await eventually(async () => receiver.received.find((h) => JSON.parse(h.body).status === "SUCCESS"));
    const messageId = String(hook.headers["webhook-id"]);
    const before = receiver.received.filter((h) => h.headers["webhook-id"] === messageId).length;
    const { stdout } = await run(
      process.execPath,
      [
        resolve(import.meta.dirname, "cli", "main.ts"),
        "--json",
        "replay",
        messageId,
        "--api-key",
        API_KEY,
        "--base-url",
        mesh.gatewayUrl,
        "--transport",
        "rest",
      ],
      { encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } },
    ).catch((err: { stdout?: string }) => {
      const out = JSON.parse(err.stdout ?? "{}") as { code?: string };
      if (out.code === "ROUTE_NOT_FOUND" || out.code === "UNIMPLEMENTED") {
        console.warn(`\n!!! [sdk mesh] SKIPPED replay: the gateway does not serve it yet (${out.code})\n`);
        ctx.skip();
      }
      throw err;
    });
    expect(JSON.parse(stdout)).toMatchObject({ id: messageId });
    const again = await eventually(async () => {
      const copies = receiver.received.filter((h) => h.headers["webhook-id"] === messageId);
      return copies.length > before ? copies.at(-1) : undefined;
    });
    expect(again.body).toBe(hook.body);
  });

  it("mypay-webhooks listen forwards mesh deliveries to a local URL, signed with the printed secret", async () => {
    const local = await startReceiver();
    const child = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, "cli", "main.ts"),
        "--json",
        "listen",
        "--forward-to",
        local.url,
        "--print-secret",
        "--api-key",
        API_KEY,
        "--base-url",
        mesh.gatewayUrl,
        "--transport",
        "rest",
      ],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    children.push(child);
    const lines: Record<string, unknown>[] = [];
    const ready = await new Promise<{ secret: string }>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`listen not ready: ${JSON.stringify(lines)}`)), 20_000);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.ready) {
          clearTimeout(timer);
          done(parsed as { secret: string });
        }
      });
    });
    const payout = await sdk("rest").payouts.create(payoutParams(`listen-${Date.now()}`));
    const forwarded = await eventually(async () =>
      local.received.find((h) => JSON.parse(h.body).payoutId === payout.id && JSON.parse(h.body).status === "SUCCESS"),
    );
    const event = await verifyWebhook(forwarded.body, forwarded.headers as Record<string, string>, ready.secret);
    expect(event.payoutId).toBe(payout.id);
    await eventually(async () =>
      lines.some((l) => (l.event as { payoutId?: string })?.payoutId === payout.id) ? true : undefined,
    );
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await local.close();
  });
});

describe("the packed @mypay/sdk", () => {
  beforeAll(() => {
    tarball = pack();
  }, 180_000);

  it("ships compiled ESM, CJS and types only, with the generated contracts inside", () => {
    const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(listing).toContain("package/esm/index.js");
    expect(listing).toContain("package/cjs/index.d.ts");
    expect(listing).toContain("package/esm/cli/main.js");
    expect(listing).toContain("package/esm/gen/mypay/payouts/v1/payouts_pb.js");
    expect(listing).toContain("package/README.md");
    expect(listing).toContain("package/cjs/testing.js");
    expect(listing.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(listing.filter((f) => f.includes(".test."))).toEqual([]);
    const dir = join(work, "listing");
    mkdirSync(dir);
    execFileSync("tar", ["-xzf", tarball, "-C", dir]);
    const manifest = JSON.parse(readFileSync(join(dir, "package", "package.json"), "utf8"));
    expect(manifest.version).toMatch(/^0\./);
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-web",
      "commander",
      "picocolors",
    ]);
    const grep = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? grep(join(d, e.name))
          : readFileSync(join(d, e.name), "utf8").includes("@mypay/proto")
            ? [e.name]
            : [],
      );
    expect(grep(join(dir, "package"))).toEqual([]);
    // The browser-safe entry: only testing.js and the CLI may touch Node built-ins; connect-node is loaded lazily.
    const nodeImports = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? e.name === "cli"
            ? []
            : nodeImports(join(d, e.name))
          : e.name.endsWith(".js") &&
              e.name !== "testing.js" &&
              /from "node:|require\("node:|from "@connectrpc\/connect-node"/.test(readFileSync(join(d, e.name), "utf8"))
            ? [e.name]
            : [],
      );
    expect(nodeImports(join(dir, "package", "esm"))).toEqual([]);
  });

  it.each(["esm", "cjs"] as const)(
    "works from a throwaway %s project: creates payouts on the mesh, verifies its webhook, type-checks, runs the CLI",
    async (kind) => {
      const dir = consumer(kind);
      const hookFile = join(work, "hook.json");
      const hook = await eventually(async () => receiver.received.find((h) => JSON.parse(h.body).status === "SUCCESS"));
      writeFileSync(hookFile, JSON.stringify({ body: hook.body, headers: hook.headers, secret }));
      for (const transport of kind === "esm" ? ["connect", "grpc"] : ["rest", "grpc-web"]) {
        const { stdout } = await run(process.execPath, ["index.js", mesh.gatewayUrl, transport, hookFile], {
          cwd: dir,
          encoding: "utf8",
          timeout: 30_000,
        });
        const out = JSON.parse(stdout);
        expect(out).toMatchObject({ amount: "1000.00", verified: "payout.updated", notFound: true });
        expect(out.payout).toMatch(/^po_/);
        expect([out.fetched, out.fixture]).toEqual([out.payout, out.payout]);
      }
      execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60_000,
      });
      const help = execFileSync(
        process.execPath,
        [join("node_modules", "@mypay", "sdk", "esm", "cli", "main.js"), "--help"],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: 30_000,
        },
      );
      expect(help).toContain("trigger");
    },
  );
});
