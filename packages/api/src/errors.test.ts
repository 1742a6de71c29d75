import { toErrorData, VmmError } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { ApiError, errorBody, statusForCode } from './errors.js';
import { errorAnswer } from './outcome.js';

/** The core's VmError (vmm-core), without loading the core. */
class VmError extends VmmError<'VM'> {}

describe('API error table', () => {
  it('maps router and lifecycle codes to the statuses the spec documents', () => {
    expect(statusForCode('ERR_VMM_API_NOT_FOUND')).toBe(404);
    expect(statusForCode('ERR_VMM_API_METHOD_NOT_ALLOWED')).toBe(405);
    expect(statusForCode('ERR_VMM_API_INVALID_BODY')).toBe(400);
    expect(statusForCode('ERR_VMM_API_BODY_TOO_LARGE')).toBe(413);
    expect(statusForCode('ERR_VMM_API_UNSUPPORTED_MEDIA_TYPE')).toBe(415);
    expect(statusForCode('ERR_VMM_VM_NOT_CREATED')).toBe(404);
    expect(statusForCode('ERR_VMM_VM_NOT_BOOTED')).toBe(405);
    expect(statusForCode('ERR_VMM_VM_NOT_PAUSED')).toBe(405);
    expect(statusForCode('ERR_VMM_VM_ALREADY_CREATED')).toBe(409);
    expect(statusForCode('ERR_VMM_VM_ALREADY_PAUSED')).toBe(409);
    expect(statusForCode('ERR_VMM_VM_INVALID_CONFIG')).toBe(400);
    expect(statusForCode('ERR_VMM_VM_NOT_SUPPORTED')).toBe(501);
  });

  it("answers 400 for the core's failures caused by an unusable kernel, file, disk or memory size", () => {
    for (const code of [
      'ERR_VMM_LOADER_TRUNCATED',
      'ERR_VMM_X86_MEMORY_TOO_SMALL',
      'ERR_VMM_ACPI_NO_SPACE',
      'ERR_VMM_GUEST_MEMORY_INVALID_SIZE',
      'ERR_VMM_HOST_FILE_NOT_REGULAR',
      'ERR_VMM_BUILD_DISK_UNREADABLE',
      'ERR_VMM_BUILD_NET_UNAVAILABLE',
    ]) {
      expect(statusForCode(code), code).toBe(400);
    }
  });

  it('answers 409 for a disk image another user holds (a conflict, like a duplicate)', () => {
    expect(statusForCode('ERR_VMM_DISK_LOCK_LOCKED')).toBe(409);
  });

  it('answers 500 for codes outside the table: a failure of the VMM itself', () => {
    expect(statusForCode('ERR_VMM_KVM_VM')).toBe(500);
    expect(statusForCode('ERR_VMM_BUILD_VCPU_SETUP')).toBe(500);
    expect(statusForCode('ERR_VMM_INTERNAL')).toBe(500);
    expect(statusForCode('ERR_VMM_NOPE')).toBe(500);
  });

  it("names the endpoint in the core's refusal of an unsupported action, keeping the core's code", () => {
    const refusal = new VmError('VM', 'not-supported', 'VmAddVdpa is not supported by this VMM yet: no hotplug', {
      details: { action: 'VmAddVdpa', reason: 'no hotplug' },
    });
    expect(errorAnswer(toErrorData(refusal), 'PUT /api/v1/vm.add-vdpa')).toEqual({
      status: 501,
      error: { code: 'ERR_VMM_VM_NOT_SUPPORTED', message: 'PUT /api/v1/vm.add-vdpa is not supported by this VMM yet: no hotplug' },
    });
    // A refused config key is not an action: its message and field stay as the core wrote them.
    const key = new VmError('VM', 'not-supported', '"tpm" is not supported by this VMM yet', { details: { field: 'tpm' } });
    expect(errorAnswer(toErrorData(key), 'PUT /api/v1/vm.create').error).toEqual({ code: 'ERR_VMM_VM_NOT_SUPPORTED', message: '"tpm" is not supported by this VMM yet', field: 'tpm' });
  });

  it('puts the field of a validation error in the response body and the allowed methods of a 405 apart', () => {
    const data = toErrorData(new ApiError('invalid-body', 'Unknown field', { details: { field: 'cpus.x' } }));
    expect(errorBody(data)).toEqual({ message: 'Unknown field', code: 'ERR_VMM_API_INVALID_BODY', field: 'cpus.x' });
    expect(errorAnswer(toErrorData(new ApiError('method-not-allowed', 'no', { details: { allow: 'GET' } })))).toMatchObject({ status: 405, allow: 'GET' });
  });
});
