import { z } from "zod";

/** Integer TCP port; 0 asks the OS for a free one. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** Whole milliseconds, `min` (default 0) up to a day. */
export const millis = (fallback: number, min = 0) => z.coerce.number().int().min(min).max(86_400_000).default(fallback);

/** A positive whole number with an upper bound. */
export const count = (fallback: number, max = 1_000_000) => z.coerce.number().int().min(1).max(max).default(fallback);

/** "true"/"false"/"1"/"0"/"yes"/"no", case-insensitive. */
export const flag = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["true", "false", "1", "0", "yes", "no"]))
    .transform((v) => v === "true" || v === "1" || v === "yes")
    .optional()
    .transform((v) => v ?? fallback);

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

/** Settings every service reads: storage, logging and shutdown. */
export const commonSettings = {
  LOG_LEVEL: logLevel,
  /** MySQL/MariaDB server URL; when unset, embedded SQLite under DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  MYSQL_URL: z.string().url().optional(),
  /** Prefix of each service's database name on a server (`<prefix>_<service>`). */
  DATABASE_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,40}$/, "lower-case letters, digits and _; starts with a letter")
    .default("mypay"),
  DATA_DIR: z.string().min(1).default(".data"),
  SHUTDOWN_TIMEOUT_MS: millis(10_000),
};

export class ConfigError extends Error {}

/**
 * Parses and validates settings from the environment. Empty and blank strings count as unset,
 * so `FOO=` falls back to the default (rather than coercing to 0 for numbers).
 * Throws ConfigError naming the first bad variable.
 */
export function parseConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") input[key] = value;
  }
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue?.path[0] ?? "?");
    const shown = input[name] === undefined ? "" : ` (got ${JSON.stringify(input[name])})`;
    throw new ConfigError(`invalid setting ${name}${shown}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

/** parseConfig for a process entry: a bad setting prints one line and exits 78 (EX_CONFIG). */
export function loadConfig<S extends z.ZodRawShape>(shape: S, service: string): z.infer<z.ZodObject<S>> {
  try {
    return parseConfig(shape);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(78);
  }
}
