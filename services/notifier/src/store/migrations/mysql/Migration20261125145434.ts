import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145434 extends Migration {

  override name = 'Migration20261125145434';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`endpoints\` add \`previous_secret\` varchar(100) null, add \`previous_secret_expires_at\` datetime(3) null, add \`disabled_reason\` varchar(200) null, add \`failing_since\` datetime(3) null, add \`deleted_at\` datetime(3) null;`);

    this.addSql(`alter table \`messages\` add \`delivered_at\` datetime(3) null;`);
    this.addSql(`alter table \`messages\` add index \`messages_merchant_id_created_at_index\` (\`merchant_id\`, \`created_at\`);`);
    this.addSql(`alter table \`messages\` add index \`messages_status_created_at_index\` (\`status\`, \`created_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`endpoints\` drop column \`previous_secret\`, drop column \`previous_secret_expires_at\`, drop column \`disabled_reason\`, drop column \`failing_since\`, drop column \`deleted_at\`;`);

    this.addSql(`alter table \`messages\` drop index \`messages_merchant_id_created_at_index\`;`);
    this.addSql(`alter table \`messages\` drop index \`messages_status_created_at_index\`;`);
    this.addSql(`alter table \`messages\` drop column \`delivered_at\`;`);
  }

}
