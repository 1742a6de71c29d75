// An image from `workervisor image build --packages jq` (scripts/setup.sh builds it into
// e2e/linux/out/images/jq; L1 has no network to build it in): the package's program and the
// glibc it links against, unpacked from Debian's .debs into the busybox initramfs, run in the
// guest through the agent. One boot; Workervisor only.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cliPath, describeWhen, linuxOutDir, linuxTierStatus } from '../../framework/index.js';

const image = join(linuxOutDir, 'images/jq');
const status = linuxTierStatus();
const ready = !status.usable || existsSync(join(image, 'initramfs.cpio.gz')) ? status : { usable: false, reason: `${image} missing: run scripts/setup.sh (it runs workervisor image build --packages jq)` };

describeWhen(ready, 'an image built from Debian packages', () => {
  it("runs the package's own dynamically linked program in the guest", async () => {
    const child = spawn(process.execPath, [cliPath, 'run', '--image', image, '--', 'jq', '-n', '[1, 2] | add'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stdout }, stderr).toEqual({ code: 0, stdout: '3\n' });
    console.log(`workervisor run --image ${image} -- jq: exit ${code}, stdout ${JSON.stringify(stdout)}`);
  }, 300_000);
});
