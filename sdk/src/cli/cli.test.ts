import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";

const MAIN = resolve(import.meta.dirname, "main.ts");
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Runs the CLI as a real process, with `stdin` piped in; resolves on exit. */
function run(args: string[], stdin = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"], env: cliEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c;
    });
    child.on("exit", (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const cliEnv = { ...process.env, NO_COLOR: "1", MYPAY_API_KEY: "", NODE_NO_WARNINGS: "1" };

const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
});

/** Starts `serve` and resolves with its URL and the JSON lines it prints. */
async function serve(): Promise<{ url: string; lines: unknown[]; child: ChildProcess }> {
  const child = spawn(process.execPath, [MAIN, "--json", "serve", "--secret", SECRET], { env: cliEnv });
  running.push(child);
  const lines: unknown[] = [];
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error("serve did not start")), 10_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const parsed = JSON.parse(line) as { listening?: string };
      lines.push(parsed);
      if (parsed.listening) {
        clearTimeout(timer);
        done(parsed.listening);
      }
    });
  });
  return { url, lines, child };
}

describe("mypay-webhooks CLI (real processes)", () => {
  it("prints help for the program and every command, exit 0", async () => {
    const main = await run(["--help"]);
    expect(main.code).toBe(0);
    for (const command of ["sign", "verify", "trigger", "serve", "listen", "replay"]) {
      expect(main.stdout).toContain(command);
    }
    for (const command of ["trigger", "listen"]) {
      expect(main.stdout).toContain(command);
      expect((await run([command, "--help"])).code).toBe(0);
    }
  });

  it("exits 2 on usage errors", async () => {
    expect((await run(["nonsense"])).code).toBe(2);
    expect((await run(["trigger", "payout.success"])).code).toBe(2);
    const unknown = await run(["trigger", "payout.lost", "--to", "http://127.0.0.1:9/", "--secret", SECRET]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown fixture/);
    expect((await run(["replay", "msg_1"])).code).toBe(2);
  });

  it("sign | verify round-trips, and verify rejects a tampered body with exit 1", async () => {
    const body = '{"type":"payout.updated","id":"evt_1"}';
    const signed = await run(["--json", "sign", "--secret", SECRET], body);
    expect(signed.code).toBe(0);
    const headers = JSON.parse(signed.stdout) as Record<string, string>;
    expect(headers["webhook-signature"]).toMatch(/^v1,/);
    const headerArgs = Object.entries(headers).flatMap(([k, v]) => ["--header", `${k}: ${v}`]);
    const ok = await run(["--json", "verify", "--secret", SECRET, ...headerArgs], body);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, event: { id: "evt_1" } });
    const bad = await run(["verify", "--secret", SECRET, ...headerArgs], body.replace("evt_1", "evt_2"));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/invalid.*no signature matches/);
  });

  it("trigger → serve: every fixture arrives verified, overrides applied; a wrong secret is refused (exit 1)", async () => {
    const server = await serve();
    const sent = await run([
      "--json",
      "trigger",
      "payout.success",
      "--to",
      server.url,
      "--secret",
      SECRET,
      "--override",
      "data.amount=5.00",
    ]);
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({
      status: 200,
      event: { status: "SUCCESS", data: { amount: "5.00" } },
    });
    for (const fixture of ["payout.failed", "payout.retry", "payout.on_hold", "payout.in_review", "payout.cancelled"]) {
      expect((await run(["trigger", fixture, "--to", server.url, "--secret", SECRET])).code).toBe(0);
    }
    const wrong = await run(["trigger", "payout.failed", "--to", server.url, "--secret", "whsec_dGhpcyBpcyBvdGhlcg=="]);
    expect(wrong.code).toBe(1);
    const exited = new Promise((done) => server.child.once("exit", done));
    server.child.kill("SIGINT");
    expect(await exited).toBe(0);
    const events = server.lines.filter((l) => (l as { valid?: boolean }).valid === true) as {
      event: { status: string; data: { amount: string } };
    }[];
    expect(events.map((e) => e.event.status)).toEqual([
      "SUCCESS",
      "FAILED",
      "RETRY",
      "ON_HOLD",
      "IN_REVIEW",
      "CANCELLED",
    ]);
    expect(events[0]!.event.data.amount).toBe("5.00");
    expect(server.lines.some((l) => (l as { valid?: boolean }).valid === false)).toBe(true);
  });

  it("exits 3 when the receiver or the API cannot be reached", async () => {
    const trigger = await run(["trigger", "payout.success", "--to", "http://127.0.0.1:9/", "--secret", SECRET]);
    expect(trigger.code).toBe(3);
    const replay = await run(["--json", "replay", "msg_1", "--api-key", "k", "--base-url", "http://127.0.0.1:9"]);
    expect(replay.code).toBe(3);
    expect(JSON.parse(replay.stdout)).toMatchObject({ code: "UNAVAILABLE" });
  });
});
