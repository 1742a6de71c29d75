import { describe, expect, it } from 'vitest';
import { defaultImageDir, imageCacheDir, normalisePackages } from './image-build.js';
import { CHECKOUT_IMAGE } from './image.js';

describe('image build inputs', () => {
  it('sorts and de-duplicates packages and refuses a word that is not a package name', () => {
    expect(normalisePackages(['jq', ' python3-minimal', 'jq', ''])).toEqual(['jq', 'python3-minimal']);
    expect(() => normalisePackages(['jq', 'rm -rf'])).toThrow(expect.objectContaining({ code: 'ERR_VMM_IMAGE_INVALID_PACKAGE' }));
    expect(() => normalisePackages(['-o'])).toThrow(/'-o' is not a Debian package name/);
  });

  it('names the cache directory by content: the same list, the same image; another list, another one', () => {
    expect(defaultImageDir([])).toBe(CHECKOUT_IMAGE);
    const jq = defaultImageDir(['jq']);
    expect(jq.startsWith(`${imageCacheDir()}/images/`)).toBe(true);
    expect(defaultImageDir(normalisePackages(['jq']))).toBe(jq);
    expect(defaultImageDir(['jq', 'python3-minimal'])).not.toBe(jq);
  });
});
