import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145516 extends Migration {

  override name = 'Migration20261125145516';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`holds\` add index \`holds_status_index\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`holds\` drop index \`holds_status_index\`;`);
  }

}
