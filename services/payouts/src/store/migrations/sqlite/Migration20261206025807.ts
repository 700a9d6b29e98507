import { Migration } from '@mikro-orm/migrations';

export class Migration20261206025807 extends Migration {

  override name = 'Migration20261206025807';

  override up(): void | Promise<void> {
    this.addSql(`drop index \`outbox_done_at_next_attempt_at_index\`;`);
    this.addSql(`alter table \`outbox\` drop column \`lease_until\`;`);
    this.addSql(`alter table \`outbox\` drop column \`done_at\`;`);
    this.addSql(`create index \`outbox_next_attempt_at_index\` on \`outbox\` (\`next_attempt_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`outbox_next_attempt_at_index\`;`);
    this.addSql(`alter table \`outbox\` add column \`lease_until\` datetime null;`);
    this.addSql(`alter table \`outbox\` add column \`done_at\` datetime null;`);
    this.addSql(`create index \`outbox_done_at_next_attempt_at_index\` on \`outbox\` (\`done_at\`, \`next_attempt_at\`);`);
  }

}
