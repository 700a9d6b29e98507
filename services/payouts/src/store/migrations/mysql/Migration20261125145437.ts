import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145437 extends Migration {

  override name = 'Migration20261125145437';

  override up(): void | Promise<void> {
    this.addSql(`create table \`payout_requests\` (\`payout_id\` varchar(32) not null, \`merchant_id\` varchar(64) not null, \`idempotency_key\` varchar(255) not null, \`fingerprint\` varchar(64) not null, \`state\` varchar(16) not null, \`owner\` varchar(36) not null, \`locked_until\` datetime(3) not null, \`error_code\` int null, \`error_reason\` varchar(64) null, \`error_message\` varchar(255) null, \`error_field\` varchar(64) null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, \`expires_at\` datetime(3) not null, primary key (\`payout_id\`)) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`payout_requests\` add index \`payout_requests_state_created_at_index\` (\`state\`, \`created_at\`);`);
    this.addSql(`alter table \`payout_requests\` add index \`payout_requests_expires_at_index\` (\`expires_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`payout_requests\`;`);
  }

}
