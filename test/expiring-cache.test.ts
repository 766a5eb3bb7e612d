import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExpiringCache } from '../src/expiring-cache.ts';

describe('an expiring cache of answers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares one answer among callers until its time is up, then works it out again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = new ExpiringCache<string, number>(5000);
    let loads = 0;
    const load = async () => ++loads;
    expect(await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)])).toEqual([1, 1, 1]);
    vi.advanceTimersByTime(4999);
    expect(await cache.get('k', load)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await cache.get('k', load)).toBe(2);
    cache.clear();
    expect(await cache.get('k', load)).toBe(3);
  });

  it('forgets a failed answer at once', async () => {
    const cache = new ExpiringCache<string, number>(5000);
    await expect(cache.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('k', async () => 7)).toBe(7);
  });
});
