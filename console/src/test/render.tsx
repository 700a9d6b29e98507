import { type ComponentChild, render } from "preact";
import { act } from "preact/test-utils";

/** Renders into a fresh container attached to the document; `cleanup` unmounts it. */
export function mount(node: ComponentChild): { root: HTMLElement; cleanup: () => void } {
  const root = document.createElement("div");
  document.body.append(root);
  act(() => render(node, root));
  return {
    root,
    cleanup: () => {
      act(() => render(null, root));
      root.remove();
    },
  };
}

/** Types into an input or textarea the way a user does (value, then an input event). */
export async function type(field: HTMLInputElement | HTMLTextAreaElement, value: string): Promise<void> {
  await act(() => {
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

/** Clicks and lets Preact and pending promises settle. */
export async function click(element: Element): Promise<void> {
  await act(async () => {
    (element as HTMLElement).click();
    await new Promise((r) => setTimeout(r, 0));
  });
}

/** The element whose text content matches, among `selector` matches in `root`; throws when absent. */
export function byText<T extends Element = HTMLElement>(root: ParentNode, selector: string, text: string | RegExp): T {
  const found = [...root.querySelectorAll(selector)].find((el) =>
    typeof text === "string" ? el.textContent?.trim() === text : text.test(el.textContent ?? ""),
  );
  if (!found) throw new Error(`no ${selector} with text ${text}`);
  return found as T;
}

/** The form control labelled `label` (by `<label for>`); throws when absent. */
export function byLabel<T extends HTMLElement = HTMLInputElement>(root: ParentNode, label: string | RegExp): T {
  const labelElement = byText<HTMLLabelElement>(root, "label", label);
  const control = labelElement.htmlFor
    ? root.querySelector(`#${CSS.escape(labelElement.htmlFor)}`)
    : labelElement.querySelector("input, select, textarea");
  if (!control) throw new Error(`label ${label} names no control`);
  return control as T;
}
