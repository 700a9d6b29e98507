import { execFileSync } from "node:child_process";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { afterAll, describe, expect, it } from "vitest";
import { startMesh } from "./mesh.ts";

const storage = testStorage();

/** Process ids of the launcher's children (the four services). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the mesh launcher", () => {
  afterAll(() => dropTestDatabases(storage));

  it("stops every service and exits non-zero when one of them dies", async () => {
    const mesh = await startMesh(storage);
    const services = childrenOf(mesh.pid);
    expect(services).toHaveLength(4);
    process.kill(services[2]!, "SIGKILL");
    expect(await mesh.exited).toBe(1);
    expect(services.filter(alive)).toEqual([]);
    expect(mesh.output.join("\n")).toMatch(/exited unexpectedly \(SIGKILL\); stopping the mesh/);
  }, 90_000);
});
