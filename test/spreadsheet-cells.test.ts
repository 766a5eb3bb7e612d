import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromSpreadsheetCell, spreadsheetCell } from '../src/spreadsheet-cells.ts';

describe('spreadsheet cells', () => {
  it('keep a cell a spreadsheet would run as a formula as text, and give back exactly what was written', () => {
    expect(['=HYPERLINK("x")', '+65 9123', '-44', '@SUM(A1)', '\tx', '\rx'].map(spreadsheetCell)).toEqual(["'=HYPERLINK(\"x\")", "'+65 9123", "'-44", "'@SUM(A1)", "'\tx", "'\rx"]);
    expect(['Singapore - Mobile', "'quoted", ''].map(spreadsheetCell)).toEqual(['Singapore - Mobile', "'quoted", '']);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("'", '=', '+', '-', '@', '\t', '\r', 'a', ' ') }), (text) => {
        const cell = spreadsheetCell(text);
        expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
        expect(fromSpreadsheetCell(cell)).toBe(text);
      }),
    );
  });
});
