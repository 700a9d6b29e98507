import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145434 extends Migration {

  override name = 'Migration20261125145434';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`endpoints\` add column \`previous_secret\` text null;`);
    this.addSql(`alter table \`endpoints\` add column \`previous_secret_expires_at\` datetime null;`);
    this.addSql(`alter table \`endpoints\` add column \`disabled_reason\` text null;`);
    this.addSql(`alter table \`endpoints\` add column \`failing_since\` datetime null;`);
    this.addSql(`alter table \`endpoints\` add column \`deleted_at\` datetime null;`);

    this.addSql(`alter table \`messages\` add column \`delivered_at\` datetime null;`);
    this.addSql(`create index \`messages_merchant_id_created_at_index\` on \`messages\` (\`merchant_id\`, \`created_at\`);`);
    this.addSql(`create index \`messages_status_created_at_index\` on \`messages\` (\`status\`, \`created_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`endpoints\` drop column \`previous_secret\`;`);
    this.addSql(`alter table \`endpoints\` drop column \`previous_secret_expires_at\`;`);
    this.addSql(`alter table \`endpoints\` drop column \`disabled_reason\`;`);
    this.addSql(`alter table \`endpoints\` drop column \`failing_since\`;`);
    this.addSql(`alter table \`endpoints\` drop column \`deleted_at\`;`);

    this.addSql(`drop index \`messages_merchant_id_created_at_index\`;`);
    this.addSql(`drop index \`messages_status_created_at_index\`;`);
    this.addSql(`alter table \`messages\` drop column \`delivered_at\`;`);
  }

}
