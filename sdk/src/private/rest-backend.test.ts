import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RestBackend } from "./rest-backend.ts";

let server: Server;
let baseUrl = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        currency: "PKR",
        balance: "1.00",
        locked: "0.00",
        available: "1.00",
        key: req.headers["x-api-key"],
      }),
    );
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((done) => server.close(done)));

describe("RestBackend", () => {
  it("calls fetch as a plain function, as browsers require (a method call on the backend is an Illegal invocation)", async () => {
    // Browsers' fetch throws unless `this` is the global object or undefined.
    function strictFetch(this: unknown, input: string | URL | Request, init?: RequestInit) {
      if (this !== undefined && this !== globalThis)
        throw new TypeError("Failed to execute 'fetch': Illegal invocation");
      return fetch(input, init);
    }
    const ctx = { requestId: "req_test", timeoutMs: 5000 };
    for (const impl of [strictFetch as typeof fetch, undefined]) {
      const backend = new RestBackend(baseUrl, "mypay_test_key", "test/1", impl);
      const balance = await backend.getBalance("PKR", ctx);
      expect(balance).toMatchObject({ balance: "1.00", key: "mypay_test_key" });
    }
  });
});
