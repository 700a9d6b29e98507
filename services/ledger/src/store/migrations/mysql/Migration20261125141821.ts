import { Migration } from "@mikro-orm/migrations";

export class Migration20261125141821 extends Migration {
  override name = "Migration20261125141821";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`accounts\` (\`id\` varchar(36) not null, \`merchant_id\` varchar(64) not null, \`currency\` varchar(3) not null, \`kind\` varchar(16) not null, \`balance\` bigint not null, \`updated_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(
      `alter table \`accounts\` add unique \`accounts_merchant_id_currency_kind_unique\` (\`merchant_id\`, \`currency\`, \`kind\`);`,
    );

    this.addSql(
      `create table \`entries\` (\`id\` bigint unsigned not null auto_increment primary key, \`transfer_id\` varchar(36) not null, \`account_id\` varchar(36) not null, \`amount\` bigint not null, \`created_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`entries\` add index \`entries_transfer_id_index\` (\`transfer_id\`);`);
    this.addSql(`alter table \`entries\` add index \`entries_account_id_index\` (\`account_id\`);`);

    this.addSql(
      `create table \`holds\` (\`id\` varchar(64) not null, \`merchant_id\` varchar(64) not null, \`currency\` varchar(3) not null, \`amount\` bigint not null, \`status\` varchar(16) not null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );

    this.addSql(
      `create table \`transfers\` (\`id\` varchar(36) not null, \`idempotency_key\` varchar(200) not null, \`kind\` varchar(16) not null, \`debit_account_id\` varchar(36) not null, \`credit_account_id\` varchar(36) not null, \`amount\` bigint not null, \`fingerprint\` varchar(200) not null, \`created_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`transfers\` add unique \`transfers_idempotency_key_unique\` (\`idempotency_key\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`accounts\`;`);
    this.addSql(`drop table if exists \`entries\`;`);
    this.addSql(`drop table if exists \`holds\`;`);
    this.addSql(`drop table if exists \`transfers\`;`);
  }
}
