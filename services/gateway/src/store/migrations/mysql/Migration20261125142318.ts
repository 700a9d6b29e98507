import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142318 extends Migration {
  override name = "Migration20261125142318";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`api_keys\` (\`id\` varchar(40) not null, \`merchant_id\` varchar(64) not null, \`key_hash\` varchar(64) not null, \`prefix\` varchar(24) not null, \`created_at\` datetime(3) not null, \`revoked_at\` datetime(3) null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
    this.addSql(`alter table \`api_keys\` add index \`api_keys_merchant_id_index\` (\`merchant_id\`);`);
    this.addSql(`alter table \`api_keys\` add unique \`api_keys_key_hash_unique\` (\`key_hash\`);`);

    this.addSql(
      `create table \`merchants\` (\`id\` varchar(64) not null, \`name\` varchar(128) not null, \`created_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`api_keys\`;`);
    this.addSql(`drop table if exists \`merchants\`;`);
  }
}
