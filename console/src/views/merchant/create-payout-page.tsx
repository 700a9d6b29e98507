import { Page } from "../../components/page.tsx";
import { navigate } from "../../router.ts";
import { useMerchant } from "../../session.ts";
import { CreatePayoutForm } from "./create-payout-form.tsx";

/** The create form, then the new payout's detail. */
export function CreatePayoutPage() {
  const merchant = useMerchant();
  return (
    <Page title="New test payout">
      <div class="card">
        <CreatePayoutForm
          create={(params, idempotencyKey) => merchant.payouts.create(params, { idempotencyKey })}
          onCreated={(payout) => navigate(`/payouts/${encodeURIComponent(payout.id)}`)}
        />
      </div>
    </Page>
  );
}
