import { appError, Code, Reason } from "@mypay/kit";
import type { KeyStore } from "./store/key-store.ts";

/** Resolves an API key to its merchant, or fails UNAUTHENTICATED with one message for every bad key. */
export class Authenticator {
  readonly #keys: KeyStore;

  constructor(keys: KeyStore) {
    this.#keys = keys;
  }

  async merchantFor(apiKey: string | null | undefined): Promise<string> {
    if (!apiKey)
      throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, "Send your API key in the X-API-KEY header.");
    const merchantId = apiKey.length <= 200 ? await this.#keys.merchantFor(apiKey) : undefined;
    if (!merchantId) throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, "The API key is not valid.");
    return merchantId;
  }
}
