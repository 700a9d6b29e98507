import type { Authenticator } from "../auth.ts";
import type { Downstream } from "../downstream.ts";
import type { KeyStore } from "../store/key-store.ts";
import { adminRoutes } from "./admin-routes.ts";
import { ledgerRoutes } from "./ledger-routes.ts";
import { type MeshTargets, meshStatusRoute } from "./mesh-status-route.ts";
import { payoutRoutes } from "./payout-routes.ts";
import { type CompiledRoute, compileRoute } from "./route.ts";
import { webhookRoutes } from "./webhook-routes.ts";

/** The whole REST API: seed-compatible JSON over the internal RPC services. */
export function restRoutes(down: Downstream, keys: KeyStore, auth: Authenticator, mesh: MeshTargets): CompiledRoute[] {
  return [
    ...payoutRoutes(down),
    ...ledgerRoutes(down),
    ...webhookRoutes(down),
    ...adminRoutes(down, keys, auth),
    meshStatusRoute(mesh),
  ].map(compileRoute);
}
