import { Migration } from '@mikro-orm/migrations';

export class Migration20261206025807 extends Migration {

  override name = 'Migration20261206025807';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`outbox\` drop index \`outbox_done_at_next_attempt_at_index\`;`);
    this.addSql(`alter table \`outbox\` drop column \`lease_until\`, drop column \`done_at\`;`);
    this.addSql(`alter table \`outbox\` add index \`outbox_next_attempt_at_index\` (\`next_attempt_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`outbox\` drop index \`outbox_next_attempt_at_index\`;`);
    this.addSql(`alter table \`outbox\` add \`lease_until\` datetime(3) null, add \`done_at\` datetime(3) null;`);
    this.addSql(`alter table \`outbox\` add index \`outbox_done_at_next_attempt_at_index\` (\`done_at\`, \`next_attempt_at\`);`);
  }

}
