// The machine's one ordered teardown: every resource the builder acquires pushes the step that
// releases it, and the same stack unwinds a failed build and Machine.close (Firecracker's drop order).
import diagnostics from 'node:diagnostics_channel';
import { createLogger } from '@workervisor/base';

const log = createLogger('teardown');
/** Publishes `{ name, error? }` after each step runs: the order is observable in tests and traces. */
const stepChannel = diagnostics.channel('workervisor:teardown:step');

/** One release step: a name for logs and tests, and what it does. */
export interface TeardownStep {
  readonly name: string;
  readonly run: () => void | Promise<void>;
}

/** What a step published on `workervisor:teardown:step` looks like. */
export interface TeardownStepEvent {
  readonly name: string;
  /** The step's failure message, when it threw. */
  readonly error?: string;
}

/**
 * A LIFO stack of release steps. Steps run last-pushed first, one at a time (async steps are
 * awaited); a failing step is logged and the rest still run. run() is idempotent: later calls
 * return the first call's promise.
 */
export class Teardown {
  private readonly steps: TeardownStep[] = [];
  private running: Promise<void> | undefined;

  /** Adds a step; it runs before every step pushed earlier. */
  push(name: string, run: () => void | Promise<void>): void {
    if (this.running !== undefined) {
      // Nothing should acquire after teardown began; release at once rather than leak.
      log.warn(`teardown step ${name} pushed after teardown began; running it now`);
      void runStep({ name, run });
      return;
    }
    this.steps.push({ name, run });
  }

  /** The names of the pending steps in the order they will run. */
  get pending(): readonly string[] {
    return this.steps.map((s) => s.name).reverse();
  }

  /** Whether run() was called. */
  get started(): boolean {
    return this.running !== undefined;
  }

  /** Runs every step, last pushed first. Never rejects. */
  run(): Promise<void> {
    this.running ??= this.unwind();
    return this.running;
  }

  private async unwind(): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) await runStep(step);
  }
}

async function runStep(step: TeardownStep): Promise<void> {
  try {
    await step.run();
    if (stepChannel.hasSubscribers) stepChannel.publish({ name: step.name } satisfies TeardownStepEvent);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log.warn(`teardown step ${step.name} failed`, { error });
    if (stepChannel.hasSubscribers) stepChannel.publish({ name: step.name, error } satisfies TeardownStepEvent);
  }
}
