import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142416 extends Migration {
  override name = "Migration20261125142416";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`attempts\` (\`id\` bigint unsigned not null auto_increment primary key, \`message_id\` varchar(40) not null, \`attempt\` int not null, \`attempted_at\` datetime(3) not null, \`result\` varchar(16) not null, \`status_code\` int null, \`latency_ms\` int not null, \`error\` varchar(500) null, \`response_excerpt\` text null) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`attempts\` add index \`attempts_message_id_index\` (\`message_id\`);`);

    this.addSql(
      `create table \`endpoints\` (\`id\` varchar(40) not null, \`merchant_id\` varchar(64) not null, \`url\` varchar(2048) not null, \`description\` varchar(200) not null, \`event_types\` varchar(2000) not null, \`secret\` varchar(100) not null, \`enabled\` tinyint(1) not null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`endpoints\` add index \`endpoints_merchant_id_index\` (\`merchant_id\`);`);

    this.addSql(
      `create table \`events\` (\`id\` varchar(128) not null, \`merchant_id\` varchar(64) not null, \`type\` varchar(100) not null, \`payload\` text not null, \`occurred_at\` datetime(3) not null, \`created_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );

    this.addSql(
      `create table \`messages\` (\`id\` varchar(40) not null, \`event_id\` varchar(128) not null, \`endpoint_id\` varchar(40) not null, \`merchant_id\` varchar(64) not null, \`status\` varchar(16) not null, \`attempts\` int not null, \`next_attempt_at\` datetime(3) not null, \`locked_until\` datetime(3) null, \`lease_token\` varchar(32) null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`messages\` add index \`messages_endpoint_id_index\` (\`endpoint_id\`);`);
    this.addSql(
      `alter table \`messages\` add index \`messages_status_next_attempt_at_index\` (\`status\`, \`next_attempt_at\`);`,
    );
    this.addSql(
      `alter table \`messages\` add unique \`messages_event_id_endpoint_id_unique\` (\`event_id\`, \`endpoint_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`attempts\`;`);
    this.addSql(`drop table if exists \`endpoints\`;`);
    this.addSql(`drop table if exists \`events\`;`);
    this.addSql(`drop table if exists \`messages\`;`);
  }
}
