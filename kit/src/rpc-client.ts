import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

export interface RpcClientOptions {
  /** Deadline applied to calls that do not set their own. */
  timeoutMs: number;
  interceptors?: Interceptor[];
}

/** A typed gRPC client over one shared HTTP/2 connection, with a default deadline. */
export function createRpcClient<T extends DescService>(
  service: T,
  baseUrl: string,
  options: RpcClientOptions,
): Client<T> {
  const transport = createGrpcTransport({
    baseUrl,
    defaultTimeoutMs: options.timeoutMs,
    interceptors: options.interceptors,
    pingIntervalMs: 10_000,
    idleConnectionTimeoutMs: 60_000,
  });
  return createClient(service, transport);
}
