import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link } from "./components/link.tsx";
import { maskKey } from "./format.ts";
import { matchRoute, navigate, useLocation } from "./router.ts";
import { loadSession, type Role, type Session, SessionContext, signOut } from "./session.ts";
import { DeadLettersPage } from "./views/admin/dead-letters-page.tsx";
import { MerchantsPage } from "./views/admin/merchants-page.tsx";
import { MeshStatusStrip } from "./views/admin/mesh-status-strip.tsx";
import { ReviewPage } from "./views/admin/review-page.tsx";
import { CreatePayoutPage } from "./views/merchant/create-payout-page.tsx";
import { PayoutDetailPage } from "./views/merchant/payout-detail-page.tsx";
import { PayoutsPage } from "./views/merchant/payouts-page.tsx";
import { WebhooksPage } from "./views/merchant/webhooks-page.tsx";
import { SignIn } from "./views/sign-in.tsx";

interface Route {
  pattern: string;
  role: Role;
  nav?: string;
  view: (params: Record<string, string>) => ComponentChildren;
}

const ROUTES: Route[] = [
  { pattern: "/payouts", role: "merchant", nav: "Payouts", view: () => <PayoutsPage /> },
  { pattern: "/payouts/new", role: "merchant", nav: "New test payout", view: () => <CreatePayoutPage /> },
  { pattern: "/payouts/:id", role: "merchant", view: (p) => <PayoutDetailPage id={p.id!} /> },
  { pattern: "/webhooks", role: "merchant", nav: "Webhooks", view: () => <WebhooksPage /> },
  { pattern: "/admin/review", role: "admin", nav: "Review and holds", view: () => <ReviewPage /> },
  { pattern: "/admin/dead-letters", role: "admin", nav: "Dead letters", view: () => <DeadLettersPage /> },
  { pattern: "/admin/merchants", role: "admin", nav: "Merchants and keys", view: () => <MerchantsPage /> },
];

const HOME: Record<Role, string> = { merchant: "/payouts", admin: "/admin/review" };

function resolve(path: string): { route: Route; params: Record<string, string> } | null {
  for (const route of ROUTES) {
    const params = matchRoute(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}

function Nav({ path, session }: { path: string; session: Session }) {
  const section = (role: Role, title: string) => (
    <div class="nav-section">
      <h2 class="nav-title">
        {title}
        {!session[role] && <span class="nav-state">signed out</span>}
      </h2>
      <ul>
        {ROUTES.filter((r) => r.role === role && r.nav).map((r) => (
          <li key={r.pattern}>
            <Link to={r.pattern} class="nav-link" current={path === r.pattern}>
              {r.nav}
            </Link>
          </li>
        ))}
      </ul>
    </div>
  );
  return (
    <nav class="sidebar" aria-label="Console">
      {section("merchant", "Merchant")}
      {section("admin", "Operations")}
    </nav>
  );
}

function SessionBar({ session, setSession }: { session: Session; setSession: (s: Session) => void }) {
  const who = (role: Role, label: string) => {
    const signed = session[role];
    if (!signed) return null;
    return (
      <span class="who">
        <span class="muted">{label}</span> <code>{maskKey(signed.key)}</code>
        <button type="button" class="link-button" onClick={() => setSession(signOut(session, role))}>
          Sign out
        </button>
      </span>
    );
  };
  return (
    <div class="session-bar">
      {who("merchant", "Merchant")}
      {who("admin", "Admin")}
    </div>
  );
}

/** The console: one app, the merchant view and the operations view, each behind its own key. */
export function App() {
  const [session, setSession] = useState<Session>(loadSession);
  const { path } = useLocation();
  const found = resolve(path);
  useEffect(() => {
    if (path === "/" && (session.merchant || session.admin)) {
      navigate(HOME[session.merchant ? "merchant" : "admin"], { replace: true });
    }
  }, [path, session]);
  let main: ComponentChildren;
  if (path === "/") {
    main = <SignIn part="any" onSignedIn={(role) => navigate(HOME[role], { replace: true })} />;
  } else if (!found) {
    main = (
      <section class="page">
        <h1>Not found</h1>
        <p>
          No console page at <code>{path}</code>. <Link to="/">Start over</Link>.
        </p>
      </section>
    );
  } else if (!session[found.route.role]) {
    main = <SignIn part={found.route.role} />;
  } else {
    main = found.route.view(found.params);
  }
  return (
    <SessionContext.Provider value={{ session, setSession }}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link to="/" class="brand">
          <span class="logo" aria-hidden="true">
            M
          </span>
          MyPay <span class="muted">console</span>
          <span class="badge info sandbox">sandbox</span>
        </Link>
        <SessionBar session={session} setSession={setSession} />
      </header>
      {session.admin && found?.route.role === "admin" && <MeshStatusStrip />}
      <div class="layout">
        <Nav path={path} session={session} />
        <main id="main" class="content">
          {main}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
