import { Migration } from "@mikro-orm/migrations";

export class Migration20261125142318 extends Migration {
  override name = "Migration20261125142318";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`api_keys\` (\`id\` text not null primary key, \`merchant_id\` text not null, \`key_hash\` text not null, \`prefix\` text not null, \`created_at\` datetime not null, \`revoked_at\` datetime null);`,
    );
    this.addSql(`create index \`api_keys_merchant_id_index\` on \`api_keys\` (\`merchant_id\`);`);
    this.addSql(`create unique index \`api_keys_key_hash_unique\` on \`api_keys\` (\`key_hash\`);`);

    this.addSql(
      `create table \`merchants\` (\`id\` text not null primary key, \`name\` text not null, \`created_at\` datetime not null);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`api_keys\`;`);
    this.addSql(`drop table if exists \`merchants\`;`);
  }
}
