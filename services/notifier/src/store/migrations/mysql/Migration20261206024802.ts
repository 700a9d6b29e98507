import { Migration } from '@mikro-orm/migrations';

export class Migration20261206024802 extends Migration {

  override name = 'Migration20261206024802';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`messages\` add \`subject_id\` varchar(64) null;`);
    this.addSql(`alter table \`messages\` add index \`messages_merchant_id_subject_id_created_at_index\` (\`merchant_id\`, \`subject_id\`, \`created_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`messages\` drop index \`messages_merchant_id_subject_id_created_at_index\`;`);
    this.addSql(`alter table \`messages\` drop column \`subject_id\`;`);
  }

}
