import { toErrorData } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { ApiError, ERR_NOT_SUPPORTED, errorBody, statusForCode } from './errors.js';
import { notSupported } from './protocol.js';

describe('API error table', () => {
  it('maps router and lifecycle codes to the statuses the spec documents', () => {
    expect(statusForCode('ERR_VMM_API_NOT_FOUND')).toBe(404);
    expect(statusForCode('ERR_VMM_API_METHOD_NOT_ALLOWED')).toBe(405);
    expect(statusForCode('ERR_VMM_API_INVALID_BODY')).toBe(400);
    expect(statusForCode('ERR_VMM_API_BODY_TOO_LARGE')).toBe(413);
    expect(statusForCode('ERR_VMM_API_UNSUPPORTED_MEDIA_TYPE')).toBe(415);
    expect(statusForCode('ERR_VMM_API_VM_NOT_CREATED')).toBe(404);
    expect(statusForCode('ERR_VMM_API_VM_NOT_BOOTED')).toBe(405);
    expect(statusForCode('ERR_VMM_API_RESIZE_PENDING')).toBe(429);
    expect(statusForCode(ERR_NOT_SUPPORTED)).toBe(501);
  });

  it('answers 500 for codes outside the table', () => {
    expect(statusForCode('ERR_VMM_KVM_RUN')).toBe(500);
  });

  it('builds the not-supported answer naming the route', () => {
    const r = notSupported({ type: 'VmAddVdpa', body: { path: '/dev/x', num_queues: 1 } });
    expect(r).toMatchObject({ ok: false, error: { code: 'ERR_VMM_API_NOT_SUPPORTED' } });
    if (!r.ok) expect(r.error.message).toContain('PUT /api/v1/vm.add-vdpa');
  });

  it('puts the field of a validation error in the response body', () => {
    const data = toErrorData(new ApiError('invalid-body', 'Unknown field', { details: { field: 'cpus.x' } }));
    expect(errorBody(data)).toEqual({ message: 'Unknown field', code: 'ERR_VMM_API_INVALID_BODY', field: 'cpus.x' });
  });
});
