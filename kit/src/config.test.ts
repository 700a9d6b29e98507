import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, commonSettings, count, flag, millis, parseConfig, port } from "./config.ts";

/** Runs parseConfig and returns the ConfigError it throws (failing the test when it does not throw). */
function configError(shape: z.ZodRawShape, env: Record<string, string>): ConfigError {
  try {
    parseConfig(shape, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ConfigError for ${JSON.stringify(env)}`);
}

describe("parseConfig", () => {
  it("fills every common setting with its default when the environment is empty", () => {
    expect(parseConfig(commonSettings, {})).toEqual({
      LOG_LEVEL: "info",
      DATABASE_PREFIX: "mypay",
      DATA_DIR: ".data",
      SHUTDOWN_TIMEOUT_MS: 10_000,
    });
  });

  it("reads values that are set and ignores variables outside the shape", () => {
    const config = parseConfig(commonSettings, {
      LOG_LEVEL: "debug",
      MYSQL_URL: "mysql://root@127.0.0.1:3306",
      DATABASE_PREFIX: "ci_42",
      SHUTDOWN_TIMEOUT_MS: "2500",
      UNRELATED: "x",
    });
    expect(config).toEqual({
      LOG_LEVEL: "debug",
      MYSQL_URL: "mysql://root@127.0.0.1:3306",
      DATABASE_PREFIX: "ci_42",
      DATA_DIR: ".data",
      SHUTDOWN_TIMEOUT_MS: 2500,
    });
    expect(config).not.toHaveProperty("UNRELATED");
  });

  it.each([
    ["empty", ""],
    ["blank", "   "],
    ["a tab and a newline", "\t\n"],
  ])("treats an %s value as unset, so the default applies", (_name, value) => {
    const shape = { PORT: port(8080), TIMEOUT_MS: millis(500), DEBUG: flag(true), LOG_LEVEL: commonSettings.LOG_LEVEL };
    expect(parseConfig(shape, { PORT: value, TIMEOUT_MS: value, DEBUG: value, LOG_LEVEL: value })).toEqual({
      PORT: 8080,
      TIMEOUT_MS: 500,
      DEBUG: true,
      LOG_LEVEL: "info",
    });
  });

  it("leaves an optional setting undefined when it is empty", () => {
    expect(parseConfig(commonSettings, { DATABASE_URL: "" }).DATABASE_URL).toBeUndefined();
  });

  it.each([
    ["LOG_LEVEL", "loud"],
    ["DATABASE_URL", "not a url"],
    ["DATABASE_PREFIX", "Upper"],
    ["DATABASE_PREFIX", "1abc"],
    ["SHUTDOWN_TIMEOUT_MS", "soon"],
    ["SHUTDOWN_TIMEOUT_MS", "-5"],
  ])("rejects %s=%j with a ConfigError naming the variable and the value", (name, value) => {
    const err = configError(commonSettings, { [name]: value });
    expect(err.message).toContain(`invalid setting ${name}`);
    expect(err.message).toContain(JSON.stringify(value));
  });

  it("names the first bad variable when several are bad", () => {
    const shape = { A_PORT: port(1), B_PORT: port(2) };
    expect(configError(shape, { A_PORT: "x", B_PORT: "y" }).message).toMatch(/^invalid setting A_PORT /);
    expect(configError(shape, { A_PORT: "1", B_PORT: "y" }).message).toMatch(/^invalid setting B_PORT /);
  });

  it("names the variable when the fault is inside a transformed value", () => {
    const shape = {
      CURRENCIES: z
        .string()
        .transform((v) => v.split(","))
        .pipe(z.array(z.enum(["PKR", "USD"])).min(1)),
    };
    expect(parseConfig(shape, { CURRENCIES: "PKR,USD" }).CURRENCIES).toEqual(["PKR", "USD"]);
    expect(configError(shape, { CURRENCIES: "PKR,XXX" }).message).toMatch(/^invalid setting CURRENCIES /);
  });

  it("names a required variable that is missing without showing a value", () => {
    const err = configError({ LEDGER_URL: z.string().url() }, {});
    expect(err.message).toMatch(/^invalid setting LEDGER_URL: /);
    expect(err.message).not.toContain("got");
  });

  it("reads process.env when no environment is given", () => {
    const name = "MYPAY_CONFIG_TEST_PORT";
    process.env[name] = "4321";
    try {
      expect(parseConfig({ [name]: port(1) })[name]).toBe(4321);
    } finally {
      delete process.env[name];
    }
  });
});

describe("flag", () => {
  const parse = (value: string | undefined, fallback: boolean) =>
    parseConfig({ F: flag(fallback) }, value === undefined ? {} : { F: value }).F;

  it.each([
    ["true", true],
    ["TRUE", true],
    [" True ", true],
    ["1", true],
    ["yes", true],
    ["YES", true],
    ["false", false],
    ["FALSE", false],
    ["0", false],
    ["no", false],
    [" No\t", false],
  ])("reads %j as %s whatever the default", (value, expected) => {
    expect(parse(value, true)).toBe(expected);
    expect(parse(value, false)).toBe(expected);
  });

  it("falls back when unset or empty", () => {
    expect(parse(undefined, true)).toBe(true);
    expect(parse(undefined, false)).toBe(false);
    expect(parse("", true)).toBe(true);
    expect(parse("", false)).toBe(false);
  });

  it.each(["maybe", "on", "off", "2", "y", "n", "truee"])("rejects %j", (value) => {
    expect(configError({ FEATURE_X: flag(false) }, { FEATURE_X: value }).message).toMatch(
      /^invalid setting FEATURE_X /,
    );
  });
});

describe("port", () => {
  const parse = (value: string) => parseConfig({ P: port(50051) }, { P: value }).P;

  it.each([
    ["0", 0],
    ["1", 1],
    ["8080", 8080],
    ["65535", 65535],
    [" 443 ", 443],
  ])("accepts %j as %i", (value, expected) => {
    expect(parse(value)).toBe(expected);
  });

  it("defaults when unset", () => {
    expect(parseConfig({ P: port(50051) }, {}).P).toBe(50051);
  });

  it.each(["65536", "-1", "80.5", "http", "80x", "NaN", "Infinity"])("rejects %j", (value) => {
    expect(configError({ LEDGER_PORT: port(1) }, { LEDGER_PORT: value }).message).toMatch(
      /^invalid setting LEDGER_PORT /,
    );
  });
});

describe("millis", () => {
  const parse = (value: string) => parseConfig({ M: millis(1000) }, { M: value }).M;

  it.each([
    ["0", 0],
    ["1", 1],
    ["30000", 30_000],
    ["86400000", 86_400_000],
  ])("accepts %j as %i", (value, expected) => {
    expect(parse(value)).toBe(expected);
  });

  it("defaults when unset", () => {
    expect(parseConfig({ M: millis(1000) }, {}).M).toBe(1000);
  });

  it.each(["86400001", "-1", "1.5", "1s", "soon"])("rejects %j", (value) => {
    expect(configError({ RPC_TIMEOUT_MS: millis(1) }, { RPC_TIMEOUT_MS: value }).message).toMatch(
      /^invalid setting RPC_TIMEOUT_MS /,
    );
  });
});

describe("count", () => {
  it("accepts 1 up to its maximum and rejects 0, negatives and values past the maximum", () => {
    const shape = { BATCH: count(100, 500) };
    expect(parseConfig(shape, {}).BATCH).toBe(100);
    expect(parseConfig(shape, { BATCH: "1" }).BATCH).toBe(1);
    expect(parseConfig(shape, { BATCH: "500" }).BATCH).toBe(500);
    for (const bad of ["0", "-3", "501", "2.5", "many"]) {
      expect(configError(shape, { BATCH: bad }).message).toMatch(/^invalid setting BATCH /);
    }
  });
});
