import type { Database } from "@mypay/kit";
import { endpointId } from "../domain/ids.ts";
import { generateSecret } from "../domain/signature.ts";
import { Endpoint } from "./entities.ts";

export interface EndpointView {
  id: string;
  merchantId: string;
  url: string;
  description: string;
  /** Empty means every event type. */
  eventTypes: string[];
  enabled: boolean;
  createdAt: Date;
}

export interface NewEndpoint {
  merchantId: string;
  url: string;
  description: string;
  eventTypes: string[];
}

/** Webhook endpoints. Callers validate URLs and event types first. */
export class EndpointStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Registers an enabled endpoint with a fresh secret; the secret is returned only here. */
  async create(input: NewEndpoint): Promise<{ endpoint: EndpointView; secret: string }> {
    const now = new Date();
    const endpoint: EndpointView = { id: endpointId(), ...input, enabled: true, createdAt: now };
    const secret = generateSecret();
    await this.#db
      .em()
      .createQueryBuilder(Endpoint)
      .insert({
        id: endpoint.id,
        merchantId: endpoint.merchantId,
        url: endpoint.url,
        description: endpoint.description,
        eventTypes: joinEventTypes(endpoint.eventTypes),
        secret,
        enabled: true,
        createdAt: now,
        updatedAt: now,
      })
      .execute("run");
    return { endpoint, secret };
  }
}

/** Event types are stored comma-joined; their names never contain commas. */
export function joinEventTypes(types: readonly string[]): string {
  return types.join(",");
}

export function splitEventTypes(stored: string): string[] {
  return stored === "" ? [] : stored.split(",");
}
