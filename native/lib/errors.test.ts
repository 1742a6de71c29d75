import { describe, expect, it } from 'vitest';
import { KvmError, wrap, type NativeErrnoError } from './errors.js';

/** An error shaped like the addon's ThrowErrno (native/src/common.cc). */
function nativeError(message: string, fields: Omit<NativeErrnoError, 'name' | 'message'>): NativeErrnoError {
  return Object.assign(new Error(message), fields);
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('wrap', () => {
  it('returns what the function returns', () => {
    expect(wrap('vm', 'KVM_CREATE_VM', () => 42)).toBe(42);
  });

  it('turns a native ioctl error into a KvmError with code, errno, syscall and ioctl', () => {
    const cause = nativeError('ioctl KVM_RUN failed: Interrupted system call', { code: 'EINTR', errno: 4, syscall: 'ioctl', ioctl: 'KVM_RUN' });
    const err = thrownBy(() =>
      wrap('vcpu', 'KVM_RUN on vCPU 0', () => {
        throw cause;
      }),
    );
    expect(err).toBeInstanceOf(KvmError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'KvmError', kind: 'vcpu', errnoName: 'EINTR', errno: 4, syscall: 'ioctl', ioctl: 'KVM_RUN', cause });
    // The kernel's text is left on the cause, not repeated.
    expect((err as KvmError).message).toBe('KVM_RUN on vCPU 0: KVM_RUN failed with EINTR');
  });

  it('names the syscall when there is no ioctl', () => {
    const cause = nativeError('mmap failed: Cannot allocate memory', { code: 'ENOMEM', errno: 12, syscall: 'mmap' });
    const err = thrownBy(() =>
      wrap('memory', 'mmap of 4096 bytes of guest RAM', () => {
        throw cause;
      }),
    ) as KvmError;
    expect(err.message).toBe('mmap of 4096 bytes of guest RAM: mmap failed with ENOMEM');
    expect(err).toMatchObject({ kind: 'memory', errnoName: 'ENOMEM', errno: 12, syscall: 'mmap', ioctl: undefined });
  });

  it('falls back to the errno number and EUNKNOWN when the error has no code', () => {
    const cause = nativeError('read failed: Some errno', { errno: 200, syscall: 'read' });
    const err = thrownBy(() =>
      wrap('eventfd', 'eventfd read', () => {
        throw cause;
      }),
    ) as KvmError;
    expect(err.message).toBe('eventfd read: read failed with errno 200');
    expect(err.errnoName).toBe('EUNKNOWN');
    expect(err.errno).toBe(200);
  });

  it('also rewrites a raw message in the "failed with" form', () => {
    const cause = nativeError('ioctl KVM_IRQFD failed with EBADF', { code: 'EBADF', errno: 9, syscall: 'ioctl', ioctl: 'KVM_IRQFD' });
    const err = thrownBy(() =>
      wrap('irq', 'KVM_IRQFD gsi 5', () => {
        throw cause;
      }),
    ) as KvmError;
    expect(err.message).toBe('KVM_IRQFD gsi 5: KVM_IRQFD failed with EBADF');
  });

  it('keeps a message written for people, with the fields of its error', () => {
    const cause = nativeError('/dev/kvm does not exist: this host has no KVM (enable virtualization, load kvm_intel or kvm_amd)', {
      code: 'ENOENT',
      errno: 2,
      syscall: 'open',
    });
    const err = thrownBy(() =>
      wrap('open', 'cannot open /dev/kvm', () => {
        throw cause;
      }),
    ) as KvmError;
    expect(err).toBeInstanceOf(KvmError);
    expect(err.message).toBe(cause.message);
    expect(err).toMatchObject({ kind: 'open', errnoName: 'ENOENT', errno: 2, syscall: 'open', cause });
  });

  it('lets errors without an errno through untouched', () => {
    const typeError = new TypeError('size must be a non-zero multiple of the page size');
    expect(
      thrownBy(() =>
        wrap('memory', 'mmap', () => {
          throw typeError;
        }),
      ),
    ).toBe(typeError);
    const stringErrno = Object.assign(new Error('odd'), { errno: 'EINTR' });
    expect(
      thrownBy(() =>
        wrap('vcpu', 'KVM_RUN', () => {
          throw stringErrno;
        }),
      ),
    ).toBe(stringErrno);
    expect(
      thrownBy(() =>
        wrap('vcpu', 'KVM_RUN', () => {
          // A non-Error throw must pass through too.
          throw 'not an error';
        }),
      ),
    ).toBe('not an error');
  });
});

describe('KvmError', () => {
  it('defaults the fields a native error lacks', () => {
    const err = new KvmError('capability', 'KVM lacks something', new Error('bare'));
    expect(err).toMatchObject({ name: 'KvmError', kind: 'capability', errnoName: 'EUNKNOWN', errno: 0, syscall: 'unknown', ioctl: undefined });
    expect(err.message).toBe('KVM lacks something');
  });
});
