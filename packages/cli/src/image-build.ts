// `workervisor image build`: the SDK's buildImage() with its progress on stderr — one line that
// rewrites itself on a terminal, every line otherwise (a log) — and the image's paths on stdout.
import { buildImage } from '@workervisor/sdk';
import type { ImageBuildOptions } from './guest-args.js';

/** Renders progress lines: rewritten in place on a TTY, appended otherwise. */
export function progressWriter(stream: NodeJS.WriteStream = process.stderr): { line: (text: string) => void; done: () => void } {
  let shown = false;
  return {
    line(text: string): void {
      if (stream.isTTY !== true) {
        stream.write(`image build: ${text}\n`);
        return;
      }
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      const status = `image build: ${text}`;
      stream.write(`\r\x1b[K${status.length > width ? `${status.slice(0, width - 1)}…` : status}`);
      shown = true;
    },
    done(): void {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

export async function runImageBuild(options: ImageBuildOptions): Promise<number> {
  const progress = progressWriter();
  try {
    const image = await buildImage({ packages: options.packages, force: options.force, onProgress: progress.line, ...(options.out === undefined ? {} : { out: options.out }) });
    progress.done();
    process.stdout.write(`dir=${image.dir}\nkernel=${image.kernel}\ninitramfs=${image.initramfs}\n`);
    return 0;
  } finally {
    progress.done();
  }
}
