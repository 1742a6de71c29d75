// A vitest reporter for the nested Linux tier: appends one JSON line per event to the file
// named by WORKERVISOR_TIER_PROGRESS (in the nested runner's job directory, which the host can
// read even after L1 was killed), so that after an L1 lockup the host knows which test files
// had finished, and how, and reruns only the others (linux-tier.ts). Used alongside the
// verbose reporter; writes nothing when the variable is unset.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule, TestSpecification } from 'vitest/node';
import type { ProgressEvent } from './tier-progress.js';

export default class ProgressReporter implements Reporter {
  readonly #file = process.env['WORKERVISOR_TIER_PROGRESS'];
  readonly #root = process.cwd();

  #write(event: ProgressEvent): void {
    if (this.#file === undefined || this.#file === '') return;
    appendFileSync(this.#file, `${JSON.stringify(event)}\n`);
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.#write({ event: 'plan', files: specifications.map((spec) => relative(this.#root, spec.moduleId)) });
  }

  onTestModuleStart(module: TestModule): void {
    this.#write({ event: 'start', file: relative(this.#root, module.moduleId) });
  }

  onTestModuleEnd(module: TestModule): void {
    this.#write({ event: 'end', file: relative(this.#root, module.moduleId), state: module.state() });
  }
}
