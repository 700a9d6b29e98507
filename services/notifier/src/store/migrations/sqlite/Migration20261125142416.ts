import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142416 extends Migration {
  override name = "Migration20261125142416";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`attempts\` (\`id\` integer not null primary key autoincrement, \`message_id\` text not null, \`attempt\` integer not null, \`attempted_at\` datetime not null, \`result\` text not null, \`status_code\` integer null, \`latency_ms\` integer not null, \`error\` text null, \`response_excerpt\` text null);`,
    );
    this.addSql(`create index \`attempts_message_id_index\` on \`attempts\` (\`message_id\`);`);

    this.addSql(
      `create table \`endpoints\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`url\` text not null, \`description\` text not null, \`event_types\` text not null, \`secret\` text not null, \`enabled\` integer not null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`,
    );
    this.addSql(`create index \`endpoints_merchant_id_index\` on \`endpoints\` (\`merchant_id\`);`);

    this.addSql(
      `create table \`events\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`type\` text not null, \`payload\` text not null, \`occurred_at\` datetime not null, \`created_at\` datetime not null);`,
    );

    this.addSql(
      `create table \`messages\` (\`id\` text not null primary key, \`event_id\` text not null, \`endpoint_id\` text not null, \`merchant_id\` text not null, \`status\` text not null, \`attempts\` integer not null, \`next_attempt_at\` datetime not null, \`locked_until\` datetime null, \`lease_token\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`,
    );
    this.addSql(`create index \`messages_endpoint_id_index\` on \`messages\` (\`endpoint_id\`);`);
    this.addSql(
      `create index \`messages_status_next_attempt_at_index\` on \`messages\` (\`status\`, \`next_attempt_at\`);`,
    );
    this.addSql(
      `create unique index \`messages_event_id_endpoint_id_unique\` on \`messages\` (\`event_id\`, \`endpoint_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`attempts\`;`);
    this.addSql(`drop table if exists \`endpoints\`;`);
    this.addSql(`drop table if exists \`events\`;`);
    this.addSql(`drop table if exists \`messages\`;`);
  }
}
