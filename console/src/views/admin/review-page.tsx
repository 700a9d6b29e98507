import { useState } from "preact/hooks";
import { ActionButton } from "../../components/action-button.tsx";
import { Card, Page } from "../../components/page.tsx";
import { ReasonForm } from "../../components/reason-form.tsx";
import { useAdmin } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { PayoutQueue } from "./payout-queue.tsx";

/** An open reason form: which payout, and which decision it is for. */
type Pending = { id: string; kind: "reject" | "fail" } | null;

/** The review queue (approve / reject with a reason) and on-hold payouts (release / fail with a reason). */
export function ReviewPage() {
  const admin = useAdmin();
  const [pending, setPending] = useState<Pending>(null);
  const review = useAsync((signal) => admin.payouts.reviewQueue({ limit: 100 }, { signal }).toArray(500), [admin], {
    refreshMs: 3000,
  });
  const held = useAsync(
    (signal) => admin.payouts.list({ status: "ON_HOLD", limit: 100 }, { signal }).toArray(500),
    [admin],
    { refreshMs: 3000 },
  );
  const form = (id: string, kind: "reject" | "fail") =>
    pending?.id === id && pending.kind === kind ? (
      <ReasonForm
        title={kind === "reject" ? `Why reject ${id}?` : `Why fail ${id}?`}
        submitLabel={kind === "reject" ? "Reject payout" : "Fail payout"}
        required
        onSubmit={async (reason) => {
          if (kind === "reject") await admin.payouts.reject(id, { reason });
          else await admin.payouts.failHold(id, { reason });
          (kind === "reject" ? review : held).reload();
        }}
        onClose={() => setPending(null)}
      />
    ) : null;
  return (
    <Page title="Review and holds">
      <Card title="Review queue">
        <PayoutQueue
          state={review.state}
          label="review queue"
          empty="Nothing to review: payouts at or above the review threshold appear here."
          onRetry={review.reload}
          expanded={(p) => form(p.id, "reject")}
          actions={(p) => (
            <>
              <ActionButton
                label={`Approve ${p.id}`}
                action={async () => {
                  await admin.payouts.approve(p.id, { reason: "approved in console" });
                  review.reload();
                }}
              >
                Approve
              </ActionButton>
              <button
                type="button"
                class="button danger"
                aria-label={`Reject ${p.id}`}
                onClick={() => setPending({ id: p.id, kind: "reject" })}
              >
                Reject
              </button>
            </>
          )}
        />
      </Card>
      <Card title="On hold">
        <PayoutQueue
          state={held.state}
          label="on hold"
          empty="No payouts on hold."
          onRetry={held.reload}
          expanded={(p) => form(p.id, "fail")}
          actions={(p) => (
            <>
              <ActionButton
                label={`Release ${p.id}`}
                action={async () => {
                  await admin.payouts.releaseHold(p.id, { reason: "released in console" });
                  held.reload();
                }}
              >
                Release
              </ActionButton>
              <button
                type="button"
                class="button danger"
                aria-label={`Fail ${p.id}`}
                onClick={() => setPending({ id: p.id, kind: "fail" })}
              >
                Fail
              </button>
            </>
          )}
        />
      </Card>
    </Page>
  );
}
