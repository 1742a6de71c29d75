// Guest images for `workervisor run` and the test fixtures: a directory with a kernel (`vmlinuz`, a bzImage) and an
// initramfs (`initramfs.cpio.gz`) whose init starts the guest agent. The default is
// $WORKERVISOR_IMAGE, else the image scripts/setup.sh builds in this checkout (e2e/linux/out).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmmError } from '@workervisor/base';

export type ImageErrorKind = 'not-found' | 'invalid-package' | 'build-failed';

export class ImageError extends VmmError<'IMAGE'> {
  constructor(kind: ImageErrorKind, message: string) {
    super('IMAGE', kind, message);
  }
}

/** The kernel command line for the default image: console on COM1, quiet, a panic or reset ends the VM. */
export const IMAGE_CMDLINE = 'console=ttyS0 quiet reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd';

export interface GuestImage {
  dir: string;
  kernel: string;
  initramfs: string;
}

/** The image scripts/setup.sh builds (e2e/linux/build.sh), relative to this package (packages/sdk/dist). */
export const CHECKOUT_IMAGE = fileURLToPath(new URL('../../../e2e/linux/out', import.meta.url));

/** The image in `dir`, or the default one; an ImageError says how to get one when it is missing. */
export function findImage(dir?: string): GuestImage {
  const fromEnv = process.env['WORKERVISOR_IMAGE'];
  const chosen = resolve(dir ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : CHECKOUT_IMAGE));
  const image = { dir: chosen, kernel: join(chosen, 'vmlinuz'), initramfs: join(chosen, 'initramfs.cpio.gz') };
  const missing = [image.kernel, image.initramfs].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    const how = dir === undefined && (fromEnv === undefined || fromEnv === '') ? '; build the default image with `bash e2e/linux/build.sh` (scripts/setup.sh runs it) or set WORKERVISOR_IMAGE' : '';
    throw new ImageError('not-found', `no guest image in ${chosen}: ${missing.join(' and ')} missing${how}`);
  }
  return image;
}
