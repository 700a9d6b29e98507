import { Migration } from "@mikro-orm/migrations";

export class Migration20261125141821 extends Migration {
  override name = "Migration20261125141821";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`accounts\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`currency\` text not null, \`kind\` text not null, \`balance\` bigint not null, \`updated_at\` datetime not null);`,
    );
    this.addSql(
      `create unique index \`accounts_merchant_id_currency_kind_unique\` on \`accounts\` (\`merchant_id\`, \`currency\`, \`kind\`);`,
    );

    this.addSql(
      `create table \`entries\` (\`id\` integer not null primary key autoincrement, \`transfer_id\` text not null, \`account_id\` text not null, \`amount\` bigint not null, \`created_at\` datetime not null);`,
    );
    this.addSql(`create index \`entries_transfer_id_index\` on \`entries\` (\`transfer_id\`);`);
    this.addSql(`create index \`entries_account_id_index\` on \`entries\` (\`account_id\`);`);

    this.addSql(
      `create table \`holds\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`currency\` text not null, \`amount\` bigint not null, \`status\` text not null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`,
    );

    this.addSql(
      `create table \`transfers\` (\`id\` text not null primary key, \`idempotency_key\` text not null, \`kind\` text not null, \`debit_account_id\` text not null, \`credit_account_id\` text not null, \`amount\` bigint not null, \`fingerprint\` text not null, \`created_at\` datetime not null);`,
    );
    this.addSql(`create unique index \`transfers_idempotency_key_unique\` on \`transfers\` (\`idempotency_key\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`accounts\`;`);
    this.addSql(`drop table if exists \`entries\`;`);
    this.addSql(`drop table if exists \`holds\`;`);
    this.addSql(`drop table if exists \`transfers\`;`);
  }
}
