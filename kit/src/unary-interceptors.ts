import type { Interceptor, UnaryRequest, UnaryResponse } from "@connectrpc/connect";

export type UnaryFn = (req: UnaryRequest) => Promise<UnaryResponse>;

/** Wraps `call` in connect interceptors for unary calls only; the first interceptor is the outermost, as in connect. */
export function applyUnaryInterceptors(call: UnaryFn, interceptors: Interceptor[] | undefined): UnaryFn {
  return (interceptors ?? []).reduceRight<UnaryFn>(
    (next, interceptor) => interceptor(next as Parameters<Interceptor>[0]) as UnaryFn,
    call,
  );
}
