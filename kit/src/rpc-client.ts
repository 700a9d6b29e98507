import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcUnaryTransport } from "./grpc-unary-transport.ts";

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
  const transport = createGrpcUnaryTransport({
    baseUrl,
    defaultTimeoutMs: options.timeoutMs,
    interceptors: options.interceptors,
  });
  return createClient(service, transport);
}
