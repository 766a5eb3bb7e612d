export * from './currency.ts';
export * from './money.ts';
export * from './rounding.ts';
