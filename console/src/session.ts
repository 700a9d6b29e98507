import { MyPay, MyPayAdmin } from "@mypay/sdk";
import { createContext } from "preact";
import { useContext } from "preact/hooks";

/**
 * Who is signed in: a merchant key, the admin key, or both (a sandbox operator often plays both parts).
 * Keys stay in this tab's sessionStorage only: closing the tab signs out, and no other tab or later
 * visit can read them.
 */
export interface Session {
  merchant: { key: string; client: MyPay } | null;
  admin: { key: string; client: MyPayAdmin } | null;
}

export type Role = "merchant" | "admin";

const STORAGE_KEYS: Record<Role, string> = { merchant: "mypay.console.merchantKey", admin: "mypay.console.adminKey" };

/** Which part a key signs in to, from its documented prefix; null for anything else. */
export function roleOfKey(key: string): Role | null {
  if (/^mypay_admin_[A-Za-z0-9_]+$/.test(key)) return "admin";
  if (/^mypay_(test|live)_[A-Za-z0-9_]+$/.test(key)) return "merchant";
  return null;
}

function clientFor(role: Role, key: string) {
  const baseUrl = window.location.origin;
  return role === "merchant"
    ? { key, client: new MyPay({ apiKey: key, baseUrl, transport: "connect" }) }
    : { key, client: new MyPayAdmin({ adminKey: key, baseUrl }) };
}

/** The session this tab stored, if any. */
export function loadSession(): Session {
  const stored = (role: Role) => window.sessionStorage.getItem(STORAGE_KEYS[role]);
  const merchant = stored("merchant");
  const admin = stored("admin");
  return {
    merchant: merchant ? (clientFor("merchant", merchant) as Session["merchant"]) : null,
    admin: admin ? (clientFor("admin", admin) as Session["admin"]) : null,
  };
}

/**
 * Checks a key against the gateway (a balance read, or the mesh status for the admin key) and returns
 * the session with it added. Throws the SDK's error for a wrong key or an unreachable gateway, and
 * `Error` for a key of neither kind.
 */
export async function signIn(session: Session, key: string): Promise<Session> {
  const trimmed = key.trim();
  const role = roleOfKey(trimmed);
  if (!role) throw new Error("That is not a MyPay key: merchant keys start mypay_test_, the admin key mypay_admin_.");
  const created = clientFor(role, trimmed);
  if (role === "merchant") await (created.client as MyPay).balance.get({}, { maxRetries: 0 });
  else await (created.client as MyPayAdmin).meshStatus({ maxRetries: 0 });
  window.sessionStorage.setItem(STORAGE_KEYS[role], trimmed);
  return { ...session, [role]: created };
}

/** The session without one role (or without both). */
export function signOut(session: Session, role?: Role): Session {
  for (const r of role ? [role] : (["merchant", "admin"] as const)) window.sessionStorage.removeItem(STORAGE_KEYS[r]);
  return role ? { ...session, [role]: null } : { merchant: null, admin: null };
}

export const SessionContext = createContext<{ session: Session; setSession: (s: Session) => void }>({
  session: { merchant: null, admin: null },
  setSession: () => {},
});

/** The signed-in merchant's client; only called inside views that require a merchant session. */
export function useMerchant(): MyPay {
  const { session } = useContext(SessionContext);
  if (!session.merchant) throw new Error("no merchant session");
  return session.merchant.client;
}

/** The admin client; only called inside views that require the admin session. */
export function useAdmin(): MyPayAdmin {
  const { session } = useContext(SessionContext);
  if (!session.admin) throw new Error("no admin session");
  return session.admin.client;
}
