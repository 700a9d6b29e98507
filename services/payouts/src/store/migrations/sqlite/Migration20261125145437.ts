import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145437 extends Migration {

  override name = 'Migration20261125145437';

  override up(): void | Promise<void> {
    this.addSql(`create table \`payout_requests\` (\`payout_id\` text not null primary key, \`merchant_id\` text not null, \`idempotency_key\` text not null, \`fingerprint\` text not null, \`state\` text not null, \`owner\` text not null, \`locked_until\` datetime not null, \`error_code\` integer null, \`error_reason\` text null, \`error_message\` text null, \`error_field\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`expires_at\` datetime not null);`);
    this.addSql(`create index \`payout_requests_state_created_at_index\` on \`payout_requests\` (\`state\`, \`created_at\`);`);
    this.addSql(`create index \`payout_requests_expires_at_index\` on \`payout_requests\` (\`expires_at\`);`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`payout_transitions__temp_alter\` (\`id\` integer not null primary key autoincrement, \`payout_id\` text not null, \`from_status\` text null, \`to_status\` text not null, \`reason\` text null, \`actor\` text not null, \`at\` datetime not null);`);
    this.addSql(`insert into \`payout_transitions__temp_alter\` select \`id\`, \`payout_id\`, \`from_status\`, \`to_status\`, \`reason\`, \`actor\`, \`at\` from \`payout_transitions\`;`);
    this.addSql(`drop table \`payout_transitions\`;`);
    this.addSql(`alter table \`payout_transitions__temp_alter\` rename to \`payout_transitions\`;`);
    this.addSql(`create index \`payout_transitions_payout_id_index\` on \`payout_transitions\` (\`payout_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`payout_requests\`;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`payout_transitions__temp_alter\` (\`id\` integer not null primary key autoincrement, \`payout_id\` TEXT not null, \`from_status\` TEXT null, \`to_status\` TEXT not null, \`reason\` TEXT null, \`actor\` TEXT not null, \`at\` datetime not null);`);
    this.addSql(`insert into \`payout_transitions__temp_alter\` select \`id\`, \`payout_id\`, \`from_status\`, \`to_status\`, \`reason\`, \`actor\`, \`at\` from \`payout_transitions\`;`);
    this.addSql(`drop table \`payout_transitions\`;`);
    this.addSql(`alter table \`payout_transitions__temp_alter\` rename to \`payout_transitions\`;`);
    this.addSql(`create index \`payout_transitions_payout_id_index\` on \`payout_transitions\` (\`payout_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }

}
