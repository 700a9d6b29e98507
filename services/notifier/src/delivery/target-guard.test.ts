import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { checkTarget, guardedLookup, type Resolver, TargetRefusedError } from "./target-guard.ts";

/** A resolver over a fixed table: tests never ask a real DNS server. */
function fakeResolver(table: Record<string, string[]>): Resolver {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

const resolve = fakeResolver({
  "hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
  "internal.example.com": ["10.0.0.5"],
  "mixed.example.com": ["93.184.216.34", "169.254.169.254"],
  "metadata.google.internal": ["169.254.169.254"],
  "localhost.test": ["127.0.0.1", "::1"],
});

describe("checkTarget", () => {
  const sandbox = { allowLoopback: true, resolve };
  const production = { allowLoopback: false, resolve };

  it("accepts public hosts and literal addresses", async () => {
    expect((await checkTarget("https://hooks.example.com/x", production)).ok).toBe(true);
    expect((await checkTarget("http://93.184.216.34/", production)).ok).toBe(true);
  });

  it.each([
    ["http://10.0.0.1/hook", /private/],
    ["http://169.254.169.254/latest/meta-data/", /link-local/],
    ["http://[fd00:ec2::254]/", /private/],
    ["http://192.168.0.10:8080/", /private/],
    ["https://internal.example.com/", /private.*internal\.example\.com/],
    ["https://mixed.example.com/", /link-local/],
    ["http://metadata.google.internal/", /link-local/],
    ["https://nowhere.example.com/", /does not resolve/],
    ["ftp://hooks.example.com/", /http or https/],
    ["https://me:secret@hooks.example.com/", /credentials/],
  ])("refuses %s, even in the sandbox", async (url, message) => {
    const check = await checkTarget(url, sandbox);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).toMatch(message);
  });

  it("allows loopback only in the sandbox", async () => {
    for (const url of ["http://127.0.0.1:9000/h", "http://[::1]:9000/h", "http://localhost.test/h"]) {
      expect((await checkTarget(url, sandbox)).ok).toBe(true);
      const refused = await checkTarget(url, production);
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.message).toMatch(/loopback/);
    }
  });
});

describe("guardedLookup", () => {
  const lookupOf = (allowLoopback: boolean) => guardedLookup({ allowLoopback, resolve });
  const run = (allowLoopback: boolean, host: string, options: { all?: boolean; family?: number }) =>
    new Promise<{ err: Error | null; address: string | LookupAddress[]; family?: number }>((done) =>
      lookupOf(allowLoopback)(host, options, (err, address, family) =>
        done({ err, address, ...(family === undefined ? {} : { family }) }),
      ),
    );

  it("answers like dns.lookup for allowed hosts", async () => {
    expect(await run(false, "hooks.example.com", {})).toMatchObject({ err: null, address: "93.184.216.34", family: 4 });
    expect(await run(false, "hooks.example.com", { family: 6 })).toMatchObject({ address: "2606:2800:220:1::1" });
    const all = await run(false, "hooks.example.com", { all: true });
    expect(all.address).toHaveLength(2);
  });

  it("fails before connecting when any address is forbidden", async () => {
    for (const host of ["internal.example.com", "mixed.example.com"]) {
      const { err } = await run(true, host, { all: true });
      expect(err).toBeInstanceOf(TargetRefusedError);
    }
    expect((await run(false, "localhost.test", {})).err).toBeInstanceOf(TargetRefusedError);
    expect((await run(true, "localhost.test", {})).err).toBeNull();
  });
});
