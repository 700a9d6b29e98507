import { describe, expect, it } from "vitest";
import { classifyAddress, isAllowedAddress, parseTargetUrl } from "./target-policy.ts";

describe("address classification", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.10", "private"],
    ["100.100.100.200", "private"],
    ["fd00:ec2::254", "private"],
    ["fc00::1", "private"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:a01:203", "private"],
    ["64:ff9b::10.0.0.1", "private"],
    ["2002:c0a8:0101::1", "private"],
    ["169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["168.63.129.16", "metadata"],
    ["0.0.0.0", "reserved"],
    ["::", "reserved"],
    ["224.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["ff02::1", "reserved"],
    ["8.8.8.8", "public"],
    ["172.32.0.1", "public"],
    ["192.169.0.1", "public"],
    ["2606:4700::1111", "public"],
    ["::ffff:8.8.8.8", "public"],
  ])("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it("allows loopback only when the sandbox says so, and private ranges never", () => {
    expect(isAllowedAddress("127.0.0.1", true)).toBe(true);
    expect(isAllowedAddress("127.0.0.1", false)).toBe(false);
    expect(isAllowedAddress("::1", false)).toBe(false);
    for (const address of ["10.0.0.1", "169.254.169.254", "192.168.0.1", "172.16.5.4", "fd12::1"]) {
      expect(isAllowedAddress(address, true)).toBe(false);
    }
    expect(isAllowedAddress("93.184.216.34", false)).toBe(true);
  });

  it("throws on something that is not an address", () => {
    expect(() => classifyAddress("example.com")).toThrow();
  });
});

describe("endpoint URL form", () => {
  it("accepts http and https URLs with a host", () => {
    const parsed = parseTargetUrl("https://hooks.example.com/mypay?x=1");
    expect(parsed).toMatchObject({ ok: true, host: "hooks.example.com", literal: false });
    expect(parseTargetUrl("http://[::1]:8080/h")).toMatchObject({ ok: true, host: "::1", literal: true });
  });

  it("sees through numeric host spellings", () => {
    expect(parseTargetUrl("http://2130706433/")).toMatchObject({ ok: true, host: "127.0.0.1", literal: true });
    expect(parseTargetUrl("http://0x0a.0.0.1/")).toMatchObject({ ok: true, host: "10.0.0.1", literal: true });
  });

  it.each([
    ["", /required/],
    ["not a url", /valid URL/],
    ["ftp://example.com/file", /http or https/],
    ["file:///etc/passwd", /http or https/],
    ["https://user:pass@example.com/", /credentials/],
    ["https://user@example.com/", /credentials/],
    [`https://example.com/${"a".repeat(2048)}`, /2048/],
  ])("refuses %j", (url, message) => {
    const parsed = parseTargetUrl(url);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });
});
