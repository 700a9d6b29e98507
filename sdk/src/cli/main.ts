#!/usr/bin/env node
/**
 * `mypay-webhooks`: the webhook test kit. Exit codes: 0 done, 1 rejected (bad signature, receiver
 * answered non-2xx), 2 usage error, 3 could not reach the receiver or the MyPay API.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Command, CommanderError, Option } from "commander";
import pc from "picocolors";
import { MyPay, VERSION } from "../client.ts";
import { ApiConnectionError, MyPayError } from "../errors.ts";
import type { WebhookEvent } from "../events.ts";
import { WEBHOOK_FIXTURES, webhookFixture } from "../fixtures.ts";
import { createWebhookTestServer, type DeliveryResult } from "../testing.ts";
import { generateTestHeaders, verifyWebhook, WebhookVerificationError } from "../webhooks.ts";

const EXIT = { ok: 0, rejected: 1, usage: 2, unreachable: 3 } as const;

class CliExit extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const program = new Command("mypay-webhooks")
  .description("Test MyPay webhooks: sign, verify, trigger fixtures, receive, forward and replay.")
  .version(VERSION)
  .option("--json", "machine-readable output (one JSON object per line)")
  .addHelpText(
    "after",
    "\nExit codes: 0 done, 1 rejected (bad signature, receiver answered non-2xx, API refused),\n" +
      "2 usage error, 3 the receiver or the MyPay API could not be reached.",
  )
  .showHelpAfterError()
  .exitOverride();

const json = () => program.opts<{ json?: boolean }>().json === true;

function print(text: string, data: unknown): void {
  console.log(json() ? JSON.stringify(data) : text);
}

/** Errors go to stderr as text, or to stdout as JSON so scripts read one stream. */
function printError(text: string, data: unknown): void {
  if (json()) console.log(JSON.stringify(data));
  else console.error(text);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliExit(EXIT.usage, "pipe the raw webhook body on standard input");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function statusColour(status: string): string {
  if (status === "SUCCESS") return pc.green(status);
  if (status === "FAILED" || status === "CANCELLED") return pc.red(status);
  return pc.yellow(status);
}

function eventLine(event: WebhookEvent, extra = ""): string {
  const time = pc.dim(new Date().toISOString().slice(11, 23));
  return `${time}  ${pc.cyan(event.type)}  ${event.payoutId ?? event.data?.id}  ${statusColour(event.status)}${extra}`;
}

function client(options: { apiKey?: string; baseUrl?: string; transport?: string }): MyPay {
  const apiKey = options.apiKey ?? process.env.MYPAY_API_KEY;
  if (!apiKey) throw new CliExit(EXIT.usage, "pass --api-key or set MYPAY_API_KEY");
  return new MyPay({
    apiKey,
    baseUrl: options.baseUrl ?? process.env.MYPAY_BASE_URL ?? "http://127.0.0.1:8080",
    transport: (options.transport ?? "connect") as "connect",
  });
}

const apiOptions = (command: Command) =>
  command
    .option("--api-key <key>", "MyPay API key (default: $MYPAY_API_KEY)")
    .option("--base-url <url>", "gateway address (default: $MYPAY_BASE_URL or http://127.0.0.1:8080)")
    .addOption(
      new Option("--transport <name>", "API transport")
        .choices(["connect", "grpc", "grpc-web", "rest"])
        .default("connect"),
    );

program
  .command("sign")
  .description("sign the body on standard input; prints the three webhook headers")
  .requiredOption("--secret <whsec>", "signing secret (whsec_…)")
  .option("--id <id>", "webhook-id (default: a new msg_…)")
  .option("--timestamp <seconds>", "webhook-timestamp in unix seconds (default: now)", Number)
  .action(async (opts: { secret: string; id?: string; timestamp?: number }) => {
    const body = await readStdin();
    const headers = await generateTestHeaders(body, opts.secret, {
      ...(opts.id ? { id: opts.id } : {}),
      ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    });
    print(
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n"),
      headers,
    );
  });

program
  .command("verify")
  .description("verify the body on standard input against its webhook headers")
  .requiredOption("--secret <whsec>", "signing secret; repeat during a rotation", collect)
  .option("--header <name: value>", "a request header, e.g. 'webhook-id: msg_…'; repeat", collect)
  .option("--id <id>", "shorthand for --header 'webhook-id: …'")
  .option("--timestamp <seconds>", "shorthand for --header 'webhook-timestamp: …'")
  .option("--signature <v1,…>", "shorthand for --header 'webhook-signature: …'")
  .option("--tolerance <seconds>", "accepted clock skew", Number, 300)
  .action(
    async (opts: {
      secret: string[];
      header?: string[];
      id?: string;
      timestamp?: string;
      signature?: string;
      tolerance: number;
    }) => {
      const headers: Record<string, string> = {};
      for (const line of opts.header ?? []) {
        const at = line.indexOf(":");
        if (at < 1) throw new CliExit(EXIT.usage, `--header must look like 'name: value', got ${line}`);
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      if (opts.id) headers["webhook-id"] = opts.id;
      if (opts.timestamp) headers["webhook-timestamp"] = opts.timestamp;
      if (opts.signature) headers["webhook-signature"] = opts.signature;
      const body = await readStdin();
      try {
        const event = await verifyWebhook<Record<string, unknown>>(body, headers, opts.secret, {
          toleranceSeconds: opts.tolerance,
        });
        print(`${pc.green("✔ valid")}  ${event.type ?? ""} ${event.id ?? ""}`.trimEnd(), { valid: true, event });
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
        print(`${pc.red("✘ invalid")}  ${err.message}`, { valid: false, error: err.message });
        process.exitCode = EXIT.rejected;
      }
    },
  );

program
  .command("trigger")
  .description("send a signed sample event to a receiver, no mesh needed")
  .argument("<fixture>", `one of ${Object.keys(WEBHOOK_FIXTURES).join(", ")}`)
  .requiredOption("--to <url>", "receiver URL")
  .requiredOption("--secret <whsec>", "secret the receiver verifies with")
  .option("--override <path=value>", "set a field, e.g. data.amount=5.00; repeat", collect)
  .action(async (fixture: string, opts: { to: string; secret: string; override?: string[] }) => {
    const overrides: Record<string, string> = {};
    for (const pair of opts.override ?? []) {
      const at = pair.indexOf("=");
      if (at < 1) throw new CliExit(EXIT.usage, `--override must look like path=value, got ${pair}`);
      overrides[pair.slice(0, at)] = pair.slice(at + 1);
    }
    let event: WebhookEvent;
    try {
      event = webhookFixture(fixture, overrides);
    } catch (err) {
      throw new CliExit(EXIT.usage, (err as Error).message);
    }
    const body = JSON.stringify(event);
    const headers = await generateTestHeaders(body, opts.secret);
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(opts.to, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": `mypay-webhooks/${VERSION}`, ...headers },
        body,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new CliExit(EXIT.unreachable, `could not deliver to ${opts.to}: ${(err as Error).cause ?? err}`);
    }
    const latencyMs = Math.round(performance.now() - started);
    const excerpt = (await res.text()).slice(0, 200);
    print(eventLine(event, `  → ${res.ok ? pc.green(res.status) : pc.red(res.status)} ${latencyMs} ms`), {
      fixture,
      webhookId: headers["webhook-id"],
      event,
      status: res.status,
      latencyMs,
      response: excerpt,
    });
    if (!res.ok) process.exitCode = EXIT.rejected;
  });

program
  .command("fixtures")
  .description("list the fixtures trigger can send")
  .action(() => {
    for (const [name, status] of Object.entries(WEBHOOK_FIXTURES)) print(`${name}  (${status})`, { name, status });
  });

program
  .command("serve")
  .description("receive webhooks locally: verify and pretty-print each one (Ctrl-C to stop)")
  .requiredOption("--secret <whsec>", "signing secret; repeat during a rotation", collect)
  .option("--port <port>", "port to listen on (default: a free one)", Number)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .action(async (opts: { secret: string[]; port?: number; host: string }) => {
    const server = await createWebhookTestServer({
      secret: opts.secret,
      host: opts.host,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      onDelivery: (result: DeliveryResult) => {
        if (result.ok) {
          print(eventLine(result.event, `  ${pc.dim(result.headers["webhook-id"] ?? "")}`), {
            valid: true,
            webhookId: result.headers["webhook-id"],
            event: result.event,
          });
        } else {
          print(`${pc.red("✘ rejected")}  ${result.error.message}`, { valid: false, error: result.error.message });
        }
      },
    });
    print(`${pc.bold("listening")} on ${server.url} (any path); Ctrl-C to stop`, { listening: server.url });
    await untilSignal();
    await server.close();
  });

apiOptions(
  program
    .command("listen")
    .description("register a temporary endpoint on the mesh and forward its deliveries to a local URL")
    .requiredOption("--forward-to <url>", "where to forward each delivery (headers and body unchanged)")
    .option("--events <types>", "comma-separated event types (default: all)")
    .option("--print-secret", "print the signing secret your local receiver should verify with"),
).action(
  async (opts: {
    forwardTo: string;
    events?: string;
    printSecret?: boolean;
    apiKey?: string;
    baseUrl?: string;
    transport?: string;
  }) => {
    const mypay = client(opts);
    const secrets: string[] = [];
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(
        ["webhook-id", "webhook-timestamp", "webhook-signature"].map((k) => [k, String(req.headers[k] ?? "")]),
      );
      let event: WebhookEvent;
      try {
        event = await verifyWebhook(body, headers, secrets);
      } catch (err) {
        print(`${pc.red("✘ rejected")}  ${(err as Error).message}`, { valid: false, error: (err as Error).message });
        res.writeHead(400).end();
        return;
      }
      const started = performance.now();
      try {
        const forwarded = await fetch(opts.forwardTo, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const latencyMs = Math.round(performance.now() - started);
        const status = forwarded.status;
        print(eventLine(event, `  → ${forwarded.ok ? pc.green(status) : pc.red(status)} ${latencyMs} ms`), {
          webhookId: headers["webhook-id"],
          event,
          status,
          latencyMs,
        });
        res.writeHead(status).end(await forwarded.text());
      } catch (err) {
        print(eventLine(event, `  → ${pc.red("unreachable")} ${(err as Error).cause ?? err}`), {
          webhookId: headers["webhook-id"],
          event,
          status: 0,
          error: String((err as Error).cause ?? err),
        });
        res.writeHead(502).end();
      }
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const { port } = server.address() as AddressInfo;
    let endpointId: string | undefined;
    try {
      const endpoint = await mypay.webhookEndpoints.create({
        url: `http://127.0.0.1:${port}/webhooks`,
        description: "mypay-webhooks listen (temporary)",
        ...(opts.events ? { eventTypes: opts.events.split(",").map((s) => s.trim()) } : {}),
      });
      endpointId = endpoint.id;
      secrets.push(endpoint.secret);
      print(
        `${pc.bold("ready")}: forwarding ${opts.events ?? "all events"} to ${opts.forwardTo} (endpoint ${endpoint.id})` +
          (opts.printSecret ? `\nsigning secret: ${endpoint.secret}` : ""),
        { ready: true, endpointId: endpoint.id, ...(opts.printSecret ? { secret: endpoint.secret } : {}) },
      );
      await untilSignal();
    } finally {
      if (endpointId) await mypay.webhookEndpoints.delete(endpointId).catch(() => {});
      server.closeAllConnections();
      server.close();
      await mypay.close();
    }
  },
);

apiOptions(
  program
    .command("replay")
    .description("deliver a message again, with the same webhook-id")
    .argument("<message-id>", "the message id (the webhook-id header of the delivery)"),
).action(async (messageId: string, opts: { apiKey?: string; baseUrl?: string; transport?: string }) => {
  const mypay = client(opts);
  try {
    const message = await mypay.webhookEndpoints.replay(messageId);
    print(`${pc.green("replay queued")}  ${message.id}  ${message.status}  attempts ${message.attempts}`, message);
  } finally {
    await mypay.close();
  }
});

function untilSignal(): Promise<void> {
  return new Promise((done) => {
    process.once("SIGINT", () => done());
    process.once("SIGTERM", () => done());
  });
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliExit) {
    printError(`${pc.red("error")}: ${err.message}`, { error: err.message });
    process.exitCode = err.code;
  } else if (err instanceof MyPayError) {
    printError(`${pc.red("error")}: ${err.message} (${err.code}${err.requestId ? `, request ${err.requestId}` : ""})`, {
      error: err.message,
      code: err.code,
      requestId: err.requestId,
    });
    process.exitCode = err instanceof ApiConnectionError ? EXIT.unreachable : EXIT.rejected;
  } else {
    console.error(err);
    process.exitCode = EXIT.unreachable;
  }
}
