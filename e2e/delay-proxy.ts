import { createConnection, createServer, type Socket } from "node:net";

/** A loopback TCP proxy that can hold every byte back for a while: a slow database or service. */
export interface DelayProxy {
  port: number;
  /** Delay added to every chunk from the target back to the client (0 = pass straight through). */
  setDelay(ms: number): void;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 forwarding to `targetPort` on 127.0.0.1. Delayed chunks keep their
 * order (each waits for the one before it), so the protocol on top stays intact, only slower.
 */
export async function startDelayProxy(targetPort: number): Promise<DelayProxy> {
  let delayMs = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.add(client).add(upstream);
    let tail = Promise.resolve();
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      const wait = delayMs;
      tail = tail.then(async () => {
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!client.destroyed) client.write(chunk);
      });
    });
    upstream.on("end", () => tail.then(() => client.end()));
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", () => tail.then(drop));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    port,
    setDelay(ms) {
      delayMs = ms;
    },
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}
