import { Migration } from '@mikro-orm/migrations';

export class Migration20261207003500 extends Migration {

  override name = 'Migration20261207003500';

  override up(): void | Promise<void> {
    this.addSql(`create table \`invariant_checkpoints\` (\`account_id\` text not null primary key, \`balance\` bigint not null, \`entry_count\` bigint not null, \`last_entry_id\` bigint not null, \`checked_at\` datetime not null);`);

    this.addSql(`alter table \`accounts\` add column \`entry_count\` bigint not null default 0;`);
    // Books written before the column existed: count their entries once.
    this.addSql(`update \`accounts\` set \`entry_count\` = (select count(*) from \`entries\` e where e.\`account_id\` = \`accounts\`.\`id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`invariant_checkpoints\`;`);

    this.addSql(`alter table \`accounts\` drop column \`entry_count\`;`);
  }

}
