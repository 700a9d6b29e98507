import type { DisabledEndpoint } from "../store/delivery-store.ts";
import type { EventStore, NewEvent } from "../store/event-store.ts";

/** Type of the event sent when the platform disables an endpoint. */
export const ENDPOINT_DISABLED_EVENT = "endpoint.disabled";

/**
 * The `endpoint.disabled` event for one endpoint the platform disabled. It goes to the merchant's
 * other enabled endpoints that take it (the disabled one no longer receives anything); a merchant
 * with no other endpoint sees it only as the endpoint's `disabled_reason`.
 */
export function endpointDisabledEvent(endpoint: DisabledEndpoint, now: Date): NewEvent {
  const id = `evt_endpoint_disabled_${endpoint.id}_${now.getTime()}`;
  return {
    id,
    type: ENDPOINT_DISABLED_EVENT,
    merchantId: endpoint.merchantId,
    subjectId: endpoint.id,
    occurredAt: now,
    payload: JSON.stringify({
      type: ENDPOINT_DISABLED_EVENT,
      event: ENDPOINT_DISABLED_EVENT,
      id,
      timestamp: now.toISOString(),
      data: { endpointId: endpoint.id, reason: endpoint.reason },
    }),
  };
}

/** Publishes `endpoint.disabled` for each endpoint; calls `onQueued` when messages were queued. */
export function announceDisabled(events: EventStore, onQueued: () => void) {
  return async (endpoints: DisabledEndpoint[]): Promise<void> => {
    const now = new Date();
    const { queued, handedOver } = await events.publish(endpoints.map((e) => endpointDisabledEvent(e, now)));
    if (queued > handedOver) onQueued();
  };
}
