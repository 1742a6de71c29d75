import { describe, expect, it } from 'vitest';
import { SnapshotError } from './errors.js';
import { snapshotDirectory } from './url.js';

describe('snapshotDirectory', () => {
  it('takes the path of a file:// URL', () => {
    expect(snapshotDirectory('file:///var/snap/a', 'destination_url')).toBe('/var/snap/a');
    expect(snapshotDirectory('file:///tmp/with%20space', 'source_url')).toBe('/tmp/with space');
  });

  it.each([
    [undefined, 'destination_url is required'],
    ['/tmp/snap', 'is not a URL'],
    ['unix:/tmp/snap', 'must be a file:// URL, not unix://'],
    ['http://example.com/snap', 'must be a file:// URL, not http://'],
    ['file://host/snap', 'names host host'],
    ['file:///tmp/snap?x=1', 'must not have a query or fragment'],
  ])('refuses %s', (url, message) => {
    expect(() => snapshotDirectory(url, 'destination_url')).toThrow(SnapshotError);
    expect(() => snapshotDirectory(url, 'destination_url')).toThrow(message);
  });
});
