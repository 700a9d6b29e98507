import { defineEntity, p } from "@mikro-orm/core";

export const Merchant = defineEntity({
  name: "Merchant",
  tableName: "merchants",
  properties: {
    id: p.string().length(64).primary(),
    name: p.string().length(128),
    createdAt: p.datetime().length(3),
  },
});

/** API keys are stored only as SHA-256 hashes; the key itself is shown once, at creation. */
export const ApiKey = defineEntity({
  name: "ApiKey",
  tableName: "api_keys",
  properties: {
    id: p.string().length(40).primary(),
    merchantId: p.string().length(64).index(),
    keyHash: p.string().length(64).unique(),
    /** The first characters, so people can tell their keys apart. */
    prefix: p.string().length(24),
    createdAt: p.datetime().length(3),
    revokedAt: p.datetime().length(3).nullable(),
  },
});

export const entities = [Merchant, ApiKey];
