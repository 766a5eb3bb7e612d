import { describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/context.ts';

describe('text from a file on a terminal', () => {
  it('shows control characters as escapes, so a CDR field cannot clear the screen or forge lines', () => {
    expect(printable('sip:\u001b]0;pwned\u0007\u001b[2J65912\nfake line')).toBe('sip:\\u001b]0;pwned\\u0007\\u001b[2J65912\\u000afake line');
    expect(printable('Singapore – Mobile, 6591234567')).toBe('Singapore – Mobile, 6591234567');
  });
});
