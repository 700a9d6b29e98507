import { Migration } from '@mikro-orm/migrations';

export class Migration20261206024802 extends Migration {

  override name = 'Migration20261206024802';

  override up(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`attempts__temp_alter\` (\`id\` integer not null primary key autoincrement, \`message_id\` text not null, \`attempt\` integer not null, \`attempted_at\` datetime not null, \`result\` text not null, \`status_code\` integer null, \`latency_ms\` integer not null, \`error\` text null, \`response_excerpt\` text null);`);
    this.addSql(`insert into \`attempts__temp_alter\` select \`id\`, \`message_id\`, \`attempt\`, \`attempted_at\`, \`result\`, \`status_code\`, \`latency_ms\`, \`error\`, \`response_excerpt\` from \`attempts\`;`);
    this.addSql(`drop table \`attempts\`;`);
    this.addSql(`alter table \`attempts__temp_alter\` rename to \`attempts\`;`);
    this.addSql(`create index \`attempts_message_id_index\` on \`attempts\` (\`message_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`alter table \`messages\` add column \`subject_id\` text null;`);
    this.addSql(`create index \`messages_merchant_id_subject_id_created_at_index\` on \`messages\` (\`merchant_id\`, \`subject_id\`, \`created_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`attempts__temp_alter\` (\`id\` integer not null primary key autoincrement, \`message_id\` TEXT not null, \`attempt\` INTEGER not null, \`attempted_at\` datetime not null, \`result\` TEXT not null, \`status_code\` INTEGER null, \`latency_ms\` INTEGER not null, \`error\` TEXT null, \`response_excerpt\` TEXT null);`);
    this.addSql(`insert into \`attempts__temp_alter\` select \`id\`, \`message_id\`, \`attempt\`, \`attempted_at\`, \`result\`, \`status_code\`, \`latency_ms\`, \`error\`, \`response_excerpt\` from \`attempts\`;`);
    this.addSql(`drop table \`attempts\`;`);
    this.addSql(`alter table \`attempts__temp_alter\` rename to \`attempts\`;`);
    this.addSql(`create index \`attempts_message_id_index\` on \`attempts\` (\`message_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`drop index \`messages_merchant_id_subject_id_created_at_index\`;`);
    this.addSql(`alter table \`messages\` drop column \`subject_id\`;`);
  }

}
