import { Migration } from '@mikro-orm/migrations';

export class Migration20261206173806 extends Migration {

  override name = 'Migration20261206173806';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`payout_requests\` add column \`key_digest\` text not null default '';`);
    // Records made before this migration carry the payout id derived from merchant and key, `po_` and the
    // same digest: their keys keep their records.
    this.addSql(`update \`payout_requests\` set \`key_digest\` = substr(\`payout_id\`, 4);`);
    this.addSql(`create unique index \`payout_requests_key_digest_unique\` on \`payout_requests\` (\`key_digest\`);`);
    this.addSql(`drop index \`payouts_merchant_id_idempotency_key_unique\`;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create unique index \`payouts_merchant_id_idempotency_key_unique\` on \`payouts\` (\`merchant_id\`, \`idempotency_key\`);`);
    this.addSql(`drop index \`payout_requests_key_digest_unique\`;`);
    this.addSql(`alter table \`payout_requests\` drop column \`key_digest\`;`);
  }

}
