import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Backend } from "./backend.ts";
import { RestBackend } from "./rest-backend.ts";
import { RpcBackend } from "./rpc-backend.ts";

/** How the client talks to the gateway. All four reach the same API on the same address. */
export type TransportName = "connect" | "grpc" | "grpc-web" | "rest";

export interface BackendOptions {
  transport: TransportName;
  baseUrl: string;
  apiKey: string;
  userAgent: string;
  fetch?: typeof fetch;
}

// A variable specifier keeps bundlers from following the Node-only import into browser builds.
const CONNECT_NODE = "@connectrpc/connect-node";

type ConnectNode = typeof import("@connectrpc/connect-node");

async function importConnectNode(): Promise<ConnectNode> {
  try {
    return (await import(/* webpackIgnore: true */ /* @vite-ignore */ CONNECT_NODE)) as ConnectNode;
  } catch (cause) {
    throw new Error(
      'the "grpc" transport needs Node.js and the @connectrpc/connect-node package (npm install @connectrpc/connect-node)',
      { cause },
    );
  }
}

/** Creates the backend for a transport. `grpc` loads connect-node on first use only. */
export async function createBackend(options: BackendOptions): Promise<Backend> {
  if (options.transport === "rest") {
    return new RestBackend(options.baseUrl, options.apiKey, options.userAgent, options.fetch);
  }
  const authenticate: Interceptor = (next) => (req) => {
    req.header.set("x-api-key", options.apiKey);
    req.header.set("x-mypay-client", options.userAgent);
    return next(req);
  };
  const common = { baseUrl: options.baseUrl, interceptors: [authenticate], useBinaryFormat: true };
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  let transport: Transport;
  let close = async () => {};
  switch (options.transport) {
    case "connect":
      transport = createConnectTransport({ ...common, ...fetchOption });
      break;
    case "grpc-web":
      transport = createGrpcWebTransport({ ...common, ...fetchOption });
      break;
    case "grpc": {
      const { createGrpcTransport, Http2SessionManager } = await importConnectNode();
      const sessionManager = new Http2SessionManager(options.baseUrl);
      transport = createGrpcTransport({ ...common, sessionManager });
      close = async () => sessionManager.abort();
      break;
    }
  }
  return new RpcBackend(transport, close);
}
