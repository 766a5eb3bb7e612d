/**
 * Text cells of CSV files people open in a spreadsheet. A cell that begins with =, +, -, @, a
 * tab or a carriage return is taken for a formula by Excel and LibreOffice (OWASP "CSV
 * Injection"), and a destination, a call id or a deck's destination name is text a customer or a
 * switch controls. Such a cell is written with a leading apostrophe, which spreadsheets show as
 * text; a deck import takes one off again (`fromSpreadsheetCell`), so an exported deck still
 * imports back as the same deck.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;

export function spreadsheetCell(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** Undoes `spreadsheetCell`: one leading apostrophe off a cell that `spreadsheetCell` would mark. */
export function fromSpreadsheetCell(text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text) ? text.slice(1) : text;
}
