import type { ComponentChildren } from "preact";
import { BASE, navigate } from "../router.ts";

/** An internal link that navigates without a page load; modified clicks (new tab) behave as usual. */
export function Link({
  to,
  children,
  class: className,
  current,
}: {
  to: string;
  children: ComponentChildren;
  class?: string;
  current?: boolean;
}) {
  return (
    <a
      href={`${BASE}${to}`}
      class={className}
      aria-current={current ? "page" : undefined}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
