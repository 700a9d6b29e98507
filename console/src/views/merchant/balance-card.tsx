import { AsyncBlock } from "../../components/async-block.tsx";
import { Card } from "../../components/page.tsx";
import { Money } from "../../components/values.tsx";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";

/** Balance, locked and available, refreshed while on screen (holds and captures move them). */
export function BalanceCard() {
  const merchant = useMerchant();
  const { state, reload } = useAsync((signal) => merchant.balance.get({}, { signal }), [merchant], {
    refreshMs: 3000,
  });
  return (
    <Card title="Balance">
      <AsyncBlock state={state} label="balance" onRetry={reload}>
        {(b) => (
          <dl class="stats">
            <div>
              <dt>Balance</dt>
              <dd data-testid="balance">
                <Money amount={b.balance} currency={b.currency} />
              </dd>
            </div>
            <div>
              <dt>Locked</dt>
              <dd data-testid="locked">
                <Money amount={b.locked} currency={b.currency} />
              </dd>
            </div>
            <div>
              <dt>Available</dt>
              <dd data-testid="available">
                <Money amount={b.available} currency={b.currency} />
              </dd>
            </div>
          </dl>
        )}
      </AsyncBlock>
    </Card>
  );
}
