import { Migration } from '@mikro-orm/migrations';

export class Migration20261125145516 extends Migration {

  override name = 'Migration20261125145516';

  override up(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`entries__temp_alter\` (\`id\` integer not null primary key autoincrement, \`transfer_id\` text not null, \`account_id\` text not null, \`amount\` bigint not null, \`created_at\` datetime not null);`);
    this.addSql(`insert into \`entries__temp_alter\` select \`id\`, \`transfer_id\`, \`account_id\`, \`amount\`, \`created_at\` from \`entries\`;`);
    this.addSql(`drop table \`entries\`;`);
    this.addSql(`alter table \`entries__temp_alter\` rename to \`entries\`;`);
    this.addSql(`create index \`entries_transfer_id_index\` on \`entries\` (\`transfer_id\`);`);
    this.addSql(`create index \`entries_account_id_index\` on \`entries\` (\`account_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`create index \`holds_status_index\` on \`holds\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`entries__temp_alter\` (\`id\` integer not null primary key autoincrement, \`transfer_id\` TEXT not null, \`account_id\` TEXT not null, \`amount\` bigint not null, \`created_at\` datetime not null);`);
    this.addSql(`insert into \`entries__temp_alter\` select \`id\`, \`transfer_id\`, \`account_id\`, \`amount\`, \`created_at\` from \`entries\`;`);
    this.addSql(`drop table \`entries\`;`);
    this.addSql(`alter table \`entries__temp_alter\` rename to \`entries\`;`);
    this.addSql(`create index \`entries_account_id_index\` on \`entries\` (\`account_id\`);`);
    this.addSql(`create index \`entries_transfer_id_index\` on \`entries\` (\`transfer_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`drop index \`holds_status_index\`;`);
  }

}
