import { describe, expect, it } from 'vitest';
import { resolveLogging } from './run.js';

describe('resolveLogging', () => {
  it('takes WORKERVISOR_LOG and WORKERVISOR_LOG_FILE when no flag and no logger section set them', () => {
    expect(resolveLogging({}, undefined, { WORKERVISOR_LOG: 'debug', WORKERVISOR_LOG_FILE: '/tmp/wv.log' })).toEqual({ level: 'debug', file: '/tmp/wv.log' });
  });

  it('defaults to warn on stderr', () => {
    expect(resolveLogging({}, undefined, {})).toEqual({ level: 'warn' });
    expect(resolveLogging({}, undefined, { WORKERVISOR_LOG: '', WORKERVISOR_LOG_FILE: '' })).toEqual({ level: 'warn' });
  });

  it('lets -v and --log-file win over the environment', () => {
    expect(resolveLogging({ logLevel: 'info', logFile: '/a.log' }, undefined, { WORKERVISOR_LOG: 'debug', WORKERVISOR_LOG_FILE: '/b.log' })).toEqual({ level: 'info', file: '/a.log' });
  });

  it("puts a Firecracker logger section between the command line and the environment", () => {
    const env = { WORKERVISOR_LOG: 'error', WORKERVISOR_LOG_FILE: '/env.log' };
    expect(resolveLogging({}, { level: 'debug', path: '/fc.log' }, env)).toEqual({ level: 'debug', file: '/fc.log' });
    expect(resolveLogging({}, { level: 'info' }, env)).toEqual({ level: 'info', file: '/env.log' });
    expect(resolveLogging({ logLevel: 'info', logFile: '/flag.log' }, { level: 'debug', path: '/fc.log' }, env)).toEqual({ level: 'info', file: '/flag.log' });
    expect(resolveLogging({}, { level: 'off' }, {})).toEqual({ level: 'error' });
  });

  it('refuses a WORKERVISOR_LOG that is not a level', () => {
    expect(() => resolveLogging({}, undefined, { WORKERVISOR_LOG: 'verbose' })).toThrow('WORKERVISOR_LOG=verbose: expected one of error, warn, info, debug');
  });
});
