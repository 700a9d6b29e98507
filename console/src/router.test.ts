import { describe, expect, it } from "vitest";
import { matchRoute } from "./router.ts";

describe("matchRoute", () => {
  it("extracts parameters, decoded, and tolerates a trailing slash", () => {
    expect(matchRoute("/payouts/:id", "/payouts/po_1")).toEqual({ id: "po_1" });
    expect(matchRoute("/payouts/:id", "/payouts/po%201/")).toEqual({ id: "po 1" });
    expect(matchRoute("/payouts", "/payouts")).toEqual({});
  });

  it("does not match longer or other paths", () => {
    expect(matchRoute("/payouts/:id", "/payouts/po_1/history")).toBeNull();
    expect(matchRoute("/payouts", "/payoutsx")).toBeNull();
    expect(matchRoute("/admin/review", "/payouts")).toBeNull();
  });
});
