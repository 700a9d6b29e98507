import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { probeReadiness, waitUntilReady } from "./service-readiness.ts";
import { freePort, hasExited } from "./testing.ts";

/**
 * A child process serving `/readyz` on `port`: "hang" never answers, a number answers 503 that many
 * times and 200 after, "exit" ends the process with code 3 after printing a line.
 */
function child(port: number, behaviour: "hang" | "exit" | number): ChildProcess {
  const script = `
    const behaviour = ${JSON.stringify(behaviour)};
    if (behaviour === "exit") { console.log("cannot open the database"); process.exit(3); }
    let notReady = behaviour;
    require("node:http").createServer((req, res) => {
      if (behaviour === "hang") return;
      res.writeHead(notReady-- > 0 ? 503 : 200).end();
    }).listen(${port}, "127.0.0.1");`;
  const started = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(started);
  return started;
}

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (!hasExited(c)) c.kill("SIGKILL");
});

describe("waitUntilReady", () => {
  it("resolves once /readyz answers 200, after answers of 503", async () => {
    const port = await freePort();
    const service = child(port, 3);
    await waitUntilReady(service, `http://127.0.0.1:${port}`, { name: "svc", intervalMs: 20 });
    expect(await probeReadiness(`http://127.0.0.1:${port}`)).toBe("ready");
  });

  it("rejects naming the exit code when the process ends first, with the details asked for", async () => {
    const port = await freePort();
    const service = child(port, "exit");
    let printed = "";
    service.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
    });
    await expect(
      waitUntilReady(service, `http://127.0.0.1:${port}`, { name: "ledger", details: () => printed.trim() }),
    ).rejects.toThrow("ledger exited with 3:\ncannot open the database");
  });

  it("gives up at its deadline when /readyz never answers, instead of waiting on the hanging probe", async () => {
    const port = await freePort();
    const service = child(port, "hang");
    await expect
      .poll(() => probeReadiness(`http://127.0.0.1:${port}`, 50), { timeout: 10_000, interval: 20 })
      .toBe("no answer within 50 ms");
    const started = performance.now();
    await expect(
      waitUntilReady(service, `http://127.0.0.1:${port}`, { name: "notifier", withinMs: 500, probeMs: 200 }),
    ).rejects.toThrow("notifier not ready within 0.5 s (no answer within 200 ms)");
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(hasExited(service)).toBe(false);
  });
});

describe("probeReadiness", () => {
  it("says why a service is not ready: its status, or nothing listening", async () => {
    const port = await freePort();
    expect(await probeReadiness(`http://127.0.0.1:${port}`)).toBe("not listening yet");
    const service = child(port, 1_000);
    await expect
      .poll(() => probeReadiness(`http://127.0.0.1:${port}`), { timeout: 10_000, interval: 20 })
      .toBe("answers 503");
    expect(hasExited(service)).toBe(false);
  });
});
