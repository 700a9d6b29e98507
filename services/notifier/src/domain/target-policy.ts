/**
 * Which webhook targets the notifier may call. Endpoint URLs are checked when they are registered,
 * and every address a delivery connects to is checked again, so a host that later resolves to an
 * internal address (DNS rebinding) is still refused.
 */
import { isIP } from "node:net";

export const MAX_URL_LENGTH = 2048;

/**
 * Address kinds. Only `public` is always allowed; `loopback` only when the sandbox allows it;
 * everything else never (private networks, link-local and cloud metadata, reserved ranges).
 */
export type AddressKind = "public" | "loopback" | "private" | "link-local" | "metadata" | "reserved";

type Range4 = readonly [base: string, prefix: number, kind: Exclude<AddressKind, "public">];

/** IPv4 ranges that are not ordinary public internet addresses (none overlaps another). */
const IPV4_RANGES: readonly Range4[] = [
  ["0.0.0.0", 8, "reserved"], // "this network"; 0.0.0.0 reaches the local host
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"], // carrier-grade NAT, also some clouds' metadata (100.100.100.200)
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"], // includes the cloud metadata address 169.254.169.254
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "private"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "reserved"], // multicast
  ["240.0.0.0", 4, "reserved"], // reserved and broadcast
  ["168.63.129.16", 32, "metadata"], // a cloud host's wire server, public-looking but internal
];

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

const IPV4_TABLE = IPV4_RANGES.map(([base, prefix, kind]) => {
  const size = 2 ** (32 - prefix);
  const start = Math.floor(ipv4ToInt(base) / size) * size;
  return { start, end: start + size - 1, kind };
});

function classifyIpv4(address: string): AddressKind {
  const value = ipv4ToInt(address);
  return IPV4_TABLE.find((range) => value >= range.start && value <= range.end)?.kind ?? "public";
}

/** The eight 16-bit groups of an IPv6 address (which may end in a dotted IPv4 part). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().split("%")[0] ?? "";
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = ipv4ToInt(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

function embeddedIpv4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

function classifyIpv6(address: string): AddressKind {
  const g = ipv6Groups(address);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0) {
    if (g6 === 0 && g7 === 1) return "loopback"; // ::1
    return "reserved"; // :: and the deprecated IPv4-compatible form
  }
  if (firstFiveZero && g5 === 0xffff) return classifyIpv4(embeddedIpv4(g6, g7)); // ::ffff:a.b.c.d
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return classifyIpv4(embeddedIpv4(g6, g7)); // NAT64 64:ff9b::a.b.c.d
  }
  if (g0 === 0x2002) return classifyIpv4(embeddedIpv4(g1, g2)); // 6to4 carries an IPv4 address
  if ((g0 & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local (includes fd00:ec2::254)
  if ((g0 & 0xffc0) === 0xfe80) return "link-local"; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return "private"; // fec0::/10 deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return "reserved"; // multicast
  if (g0 === 0x2001 && (g1 === 0 || g1 === 0xdb8)) return "reserved"; // Teredo, documentation
  if (g0 === 0x64 && g1 === 0xff9b) return "private"; // 64:ff9b:1::/48 local-use NAT64
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return "reserved"; // discard-only
  return "public";
}

/** The kind of an IP address literal (IPv4 or IPv6, brackets allowed). Throws if it is not one. */
export function classifyAddress(address: string): AddressKind {
  const bare = address.replace(/^\[|\]$/g, "");
  const family = isIP(bare);
  if (family === 4) return classifyIpv4(bare);
  if (family === 6) return classifyIpv6(bare);
  throw new Error(`${address} is not an IP address`);
}

/** Whether the notifier may connect to `address`. */
export function isAllowedAddress(address: string, allowLoopback: boolean): boolean {
  const kind = classifyAddress(address);
  return kind === "public" || (kind === "loopback" && allowLoopback);
}

/** Why an address is refused, for error messages; undefined when it is allowed. */
export function refusalOf(address: string, allowLoopback: boolean): string | undefined {
  const kind = classifyAddress(address);
  if (kind === "public" || (kind === "loopback" && allowLoopback)) return undefined;
  return `${address} is a ${kind} address`;
}

export type ParsedTarget =
  | {
      ok: true;
      url: URL;
      /** Host name without IPv6 brackets. */
      host: string;
      /** Set when the host is an IP address, so no name lookup is needed. */
      literal: boolean;
    }
  | { ok: false; message: string };

/** Checks an endpoint URL's form: http(s), no credentials, at most 2048 characters, a host. */
export function parseTargetUrl(raw: string): ParsedTarget {
  if (raw.length === 0) return { ok: false, message: "is required" };
  if (raw.length > MAX_URL_LENGTH) return { ok: false, message: `is longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: "is not a valid URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, message: "must use http or https" };
  if (url.href.length > MAX_URL_LENGTH) return { ok: false, message: `is longer than ${MAX_URL_LENGTH} characters` };
  if (url.username !== "" || url.password !== "") return { ok: false, message: "must not contain credentials" };
  // The WHATWG parser normalises numeric forms (http://2130706433/ → 127.0.0.1), so checks see the real address.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "") return { ok: false, message: "must name a host" };
  return { ok: true, url, host, literal: isIP(host) !== 0 };
}
