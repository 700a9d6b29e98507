import type { Payout } from "@mypay/sdk";
import type { ComponentChildren } from "preact";
import { AsyncBlock } from "../../components/async-block.tsx";
import { DateTime, Money, StatusBadge } from "../../components/values.tsx";
import type { AsyncState } from "../../use-async.ts";

/** A table of payouts waiting for an operator, with per-row actions and an inline form under a row. */
export function PayoutQueue({
  state,
  label,
  empty,
  onRetry,
  actions,
  expanded,
}: {
  state: AsyncState<Payout[]>;
  label: string;
  empty: string;
  onRetry: () => void;
  actions: (payout: Payout) => ComponentChildren;
  /** What to show under a row (a reason form), or null. */
  expanded: (payout: Payout) => ComponentChildren;
}) {
  return (
    <AsyncBlock state={state} label={label} onRetry={onRetry}>
      {(payouts) =>
        payouts.length === 0 ? (
          <p class="empty">{empty}</p>
        ) : (
          <div class="table-wrap">
            <table data-testid={label.replace(/\s+/g, "-")}>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Payout</th>
                  <th scope="col">Reference</th>
                  <th scope="col" class="num">
                    Amount
                  </th>
                  <th scope="col">Destination</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {payouts.flatMap((p) => {
                  const below = expanded(p);
                  return [
                    <tr key={p.id} data-payout={p.id}>
                      <td>
                        <DateTime value={p.createdAt} />
                      </td>
                      <td class="mono small">{p.id}</td>
                      <td>{p.merchantReference}</td>
                      <td class="num">
                        <Money amount={p.amount} currency={p.currency} />
                      </td>
                      <td>
                        {p.bankCode} {p.accountNumber} · {p.accountTitle}
                      </td>
                      <td>
                        <StatusBadge status={p.status} />
                      </td>
                      <td class="actions">{actions(p)}</td>
                    </tr>,
                    below ? (
                      <tr key={`${p.id}-form`} class="expanded">
                        <td colSpan={7}>{below}</td>
                      </tr>
                    ) : null,
                  ];
                })}
              </tbody>
            </table>
          </div>
        )
      }
    </AsyncBlock>
  );
}
