import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142102 extends Migration {
  override name = "Migration20261125142102";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`outbox\` (\`id\` text not null primary key, \`payout_id\` text not null, \`kind\` text not null, \`merchant_id\` text not null, \`payload\` text null, \`attempts\` integer not null, \`next_attempt_at\` datetime not null, \`lease_until\` datetime null, \`last_error\` text null, \`created_at\` datetime not null, \`done_at\` datetime null);`,
    );
    this.addSql(
      `create index \`outbox_done_at_next_attempt_at_index\` on \`outbox\` (\`done_at\`, \`next_attempt_at\`);`,
    );

    this.addSql(
      `create table \`payouts\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`idempotency_key\` text not null, \`fingerprint\` text not null, \`merchant_reference\` text not null, \`currency\` text not null, \`amount\` bigint not null, \`status\` text not null, \`dest_type\` text not null, \`bank_code\` text not null, \`account_number\` text not null, \`account_title\` text not null, \`psp_reference\` text null, \`failure_code\` text null, \`failure_message\` text null, \`attempts\` integer not null, \`next_attempt_at\` datetime not null, \`lease_id\` text null, \`lease_until\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`processed_at\` datetime null);`,
    );
    this.addSql(
      `create index \`payouts_status_next_attempt_at_index\` on \`payouts\` (\`status\`, \`next_attempt_at\`);`,
    );
    this.addSql(
      `create index \`payouts_merchant_id_created_at_index\` on \`payouts\` (\`merchant_id\`, \`created_at\`);`,
    );
    this.addSql(
      `create unique index \`payouts_merchant_id_idempotency_key_unique\` on \`payouts\` (\`merchant_id\`, \`idempotency_key\`);`,
    );

    this.addSql(
      `create table \`payout_transitions\` (\`id\` integer not null primary key autoincrement, \`payout_id\` text not null, \`from_status\` text null, \`to_status\` text not null, \`reason\` text null, \`actor\` text not null, \`at\` datetime not null);`,
    );
    this.addSql(`create index \`payout_transitions_payout_id_index\` on \`payout_transitions\` (\`payout_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`outbox\`;`);
    this.addSql(`drop table if exists \`payouts\`;`);
    this.addSql(`drop table if exists \`payout_transitions\`;`);
  }
}
