import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142102 extends Migration {
  override name = "Migration20261125142102";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`outbox\` (\`id\` varchar(40) not null, \`payout_id\` varchar(32) not null, \`kind\` varchar(16) not null, \`merchant_id\` varchar(64) not null, \`payload\` text null, \`attempts\` int not null, \`next_attempt_at\` datetime(3) not null, \`lease_until\` datetime(3) null, \`last_error\` varchar(255) null, \`created_at\` datetime(3) not null, \`done_at\` datetime(3) null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(
      `alter table \`outbox\` add index \`outbox_done_at_next_attempt_at_index\` (\`done_at\`, \`next_attempt_at\`);`,
    );

    this.addSql(
      `create table \`payouts\` (\`id\` varchar(32) not null, \`merchant_id\` varchar(64) not null, \`idempotency_key\` varchar(255) not null, \`fingerprint\` varchar(64) not null, \`merchant_reference\` varchar(64) not null, \`currency\` varchar(3) not null, \`amount\` bigint not null, \`status\` varchar(16) not null, \`dest_type\` varchar(16) not null, \`bank_code\` varchar(16) not null, \`account_number\` varchar(34) not null, \`account_title\` varchar(128) not null, \`psp_reference\` varchar(64) null, \`failure_code\` varchar(64) null, \`failure_message\` varchar(255) null, \`attempts\` int not null, \`next_attempt_at\` datetime(3) not null, \`lease_id\` varchar(36) null, \`lease_until\` datetime(3) null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, \`processed_at\` datetime(3) null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(
      `alter table \`payouts\` add index \`payouts_status_next_attempt_at_index\` (\`status\`, \`next_attempt_at\`);`,
    );
    this.addSql(
      `alter table \`payouts\` add index \`payouts_merchant_id_created_at_index\` (\`merchant_id\`, \`created_at\`);`,
    );
    this.addSql(
      `alter table \`payouts\` add unique \`payouts_merchant_id_idempotency_key_unique\` (\`merchant_id\`, \`idempotency_key\`);`,
    );

    this.addSql(
      `create table \`payout_transitions\` (\`id\` bigint unsigned not null auto_increment primary key, \`payout_id\` varchar(32) not null, \`from_status\` varchar(16) null, \`to_status\` varchar(16) not null, \`reason\` varchar(255) null, \`actor\` varchar(64) not null, \`at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`payout_transitions\` add index \`payout_transitions_payout_id_index\` (\`payout_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`outbox\`;`);
    this.addSql(`drop table if exists \`payouts\`;`);
    this.addSql(`drop table if exists \`payout_transitions\`;`);
  }
}
