// What the API worker asks of the core: one VmmAction per request, answered with one ActionResult
// (both defined by the core in @workervisor/vmm-core, imported here as types only, so the API
// worker never loads the core). Everything here is structured-clone safe.
import { toErrorData } from '@workervisor/base';
import type { ActionResult, VmmAction } from '@workervisor/vmm-core';

/** What serves the API: the core (Vmm) or a test double. One call per HTTP request; never rejects. */
export interface ApiBackend {
  handle(action: VmmAction): Promise<ActionResult>;
}

/** A failed result from any thrown value. */
export function failure(err: unknown): ActionResult {
  return { ok: false, error: toErrorData(err) };
}
