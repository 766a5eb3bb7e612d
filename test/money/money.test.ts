import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  add,
  compare,
  divideRounded,
  formatMicros,
  formatMoney,
  minorUnitDigits,
  money,
  multiplyRational,
  parseCurrency,
  parseMicros,
  parseMoney,
  roundToMinorUnit,
  subtract,
  type Currency,
  type Money,
  type RoundingMode,
} from '../../src/money/index.ts';

const SGD = parseCurrency('SGD')!;
const JPY = parseCurrency('JPY')!;
const KWD = parseCurrency('KWD')!;
const CLF = parseCurrency('CLF')!;

function m(text: string, currency: string = 'SGD'): Money {
  const parsed = parseMoney(text, currency);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('money', () => {
  it('adds the seed examples exactly', () => {
    expect(formatMoney(add(m('-1610.61'), m('-0.20544')))).toBe('-1610.81544');
    expect(formatMoney(add(m('65.98'), m('-0.000009')))).toBe('65.979991');
  });

  it('knows the ISO 4217 minor units, including the unusual ones', () => {
    expect(minorUnitDigits(SGD)).toBe(2);
    expect(minorUnitDigits(JPY)).toBe(0);
    expect(minorUnitDigits(KWD)).toBe(3);
    expect(minorUnitDigits(parseCurrency('BHD')!)).toBe(3);
    expect(minorUnitDigits(CLF)).toBe(4);
  });

  it('round-trips decimal strings through micro-units', () => {
    for (const [text, currency, micros, formatted] of [
      ['-1610.81544', 'SGD', -1610815440n, '-1610.81544'],
      ['65.979991', 'SGD', 65979991n, '65.979991'],
      ['100', 'SGD', 100000000n, '100.00'],
      ['0.1', 'SGD', 100000n, '0.10'],
      ['1500', 'JPY', 1500000000n, '1500'],
      ['0.5', 'JPY', 500000n, '0.5'],
      ['1.234', 'KWD', 1234000n, '1.234'],
      ['0.0001', 'CLF', 100n, '0.0001'],
      ['-0', 'SGD', 0n, '0.00'],
      ['9223372036854.775807', 'SGD', 9223372036854775807n, '9223372036854.775807'],
    ] as const) {
      const parsed = m(text, currency);
      expect(parsed.micros).toBe(micros);
      expect(formatMoney(parsed)).toBe(formatted);
      expect(m(formatted, currency).micros).toBe(micros);
    }
  });

  it('rejects each kind of bad amount with a reason', () => {
    const bad: unknown[] = [
      12.5, // a JSON number, not a string
      '',
      'NaN',
      'Infinity',
      '1e5',
      '1E-2',
      '0x10',
      '1,000.00',
      ' 1.00',
      '1.00 ',
      '+1.00',
      '.5',
      '5.',
      '1.0000001', // seven decimals
      '--1',
      '9223372036854.775808', // one micro beyond BIGINT
      null,
      undefined,
    ];
    for (const value of bad) {
      const parsed = parseMicros(value);
      expect(parsed.ok, `accepted ${String(value)}`).toBe(false);
      if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(5);
    }
    const number = parseMicros(12.5);
    expect(!number.ok && number.reason).toMatch(/not a JSON number/);
  });

  it('rejects unknown currencies', () => {
    for (const code of ['XYZ', 'sgd', '', 'SGDD', 'XXX', 'XAU']) {
      expect(parseMoney('1.00', code).ok, code).toBe(false);
    }
  });

  it('refuses to mix currencies', () => {
    expect(() => add(m('1'), m('1', 'JPY'))).toThrow(TypeError);
    expect(() => compare(m('1'), m('1', 'USD'))).toThrow(TypeError);
  });

  it('multiplies by a rational with each rounding mode', () => {
    const rate = m('0.02'); // per minute
    expect(formatMoney(multiplyRational(rate, 600n, 60n, 'half_up'))).toBe('0.20');
    const third = m('1.00');
    expect(multiplyRational(third, 1n, 3n, 'half_up').micros).toBe(333333n);
    expect(multiplyRational(third, 1n, 3n, 'up').micros).toBe(333334n);
    expect(multiplyRational(third, 1n, 3n, 'down').micros).toBe(333333n);
    expect(multiplyRational(third, 2n, 3n, 'half_up').micros).toBe(666667n);
    expect(multiplyRational(third, 2n, 3n, 'down').micros).toBe(666666n);
    expect(multiplyRational(m('-1.00'), 2n, 3n, 'up').micros).toBe(-666667n);
    expect(multiplyRational(m('-1.00'), 2n, 3n, 'down').micros).toBe(-666666n);
  });

  it('breaks ties as each mode says', () => {
    const cases: [bigint, Record<RoundingMode, bigint>][] = [
      [5n, { half_up: 3n, half_even: 2n, up: 3n, down: 2n }],
      [7n, { half_up: 4n, half_even: 4n, up: 4n, down: 3n }],
      [-5n, { half_up: -3n, half_even: -2n, up: -3n, down: -2n }],
      [-7n, { half_up: -4n, half_even: -4n, up: -4n, down: -3n }],
      [4n, { half_up: 2n, half_even: 2n, up: 2n, down: 2n }],
    ];
    for (const [numerator, expected] of cases) {
      for (const mode of Object.keys(expected) as RoundingMode[]) {
        expect(divideRounded(numerator, 2n, mode), `${numerator}/2 ${mode}`).toBe(expected[mode]);
      }
    }
    expect(() => divideRounded(1n, 0n, 'half_up')).toThrow(RangeError);
  });

  it('rounds to the minor unit of each currency', () => {
    expect(formatMoney(roundToMinorUnit(m('-1610.81544'), 'half_up'))).toBe('-1610.82');
    expect(formatMoney(roundToMinorUnit(m('65.979991'), 'half_up'))).toBe('65.98');
    expect(formatMoney(roundToMinorUnit(m('0.005'), 'half_even'))).toBe('0.00');
    expect(formatMoney(roundToMinorUnit(m('0.015'), 'half_even'))).toBe('0.02');
    expect(formatMoney(roundToMinorUnit(m('1500.5', 'JPY'), 'half_up'))).toBe('1501');
    expect(formatMoney(roundToMinorUnit(m('1.2345', 'KWD'), 'down'))).toBe('1.234');
    expect(formatMoney(roundToMinorUnit(m('0.00005', 'CLF'), 'half_up'))).toBe('0.0001');
  });
});

describe('money properties', () => {
  const currencies: Currency[] = [SGD, JPY, KWD, CLF];
  const micros = fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n });
  const amount = fc.tuple(micros, fc.constantFrom(...currencies)).map(([value, currency]) => money(value, currency));
  const mode = fc.constantFrom<RoundingMode>('half_up', 'half_even', 'up', 'down');

  it('addition is associative and commutative', () => {
    fc.assert(
      fc.property(micros, micros, micros, (a, b, c) => {
        const [x, y, z] = [money(a, SGD), money(b, SGD), money(c, SGD)];
        expect(add(add(x, y), z)).toEqual(add(x, add(y, z)));
        expect(add(x, y)).toEqual(add(y, x));
        expect(subtract(add(x, y), y)).toEqual(x);
      }),
    );
  });

  it('formatting and parsing round-trip every amount', () => {
    fc.assert(
      fc.property(amount, (value) => {
        const parsed = parseMoney(formatMoney(value), value.currency);
        expect(parsed.ok && parsed.value).toEqual(value);
      }),
    );
  });

  it('rounding to the minor unit moves an amount by less than one minor unit, in the mode’s direction', () => {
    fc.assert(
      fc.property(amount, mode, (value, roundingMode) => {
        const step = 10n ** BigInt(6 - minorUnitDigits(value.currency));
        const rounded = roundToMinorUnit(value, roundingMode).micros;
        const difference = rounded - value.micros;
        expect(rounded % step).toBe(0n);
        expect(difference < step && difference > -step).toBe(true);
        if (roundingMode === 'down') expect(abs(rounded) <= abs(value.micros)).toBe(true);
        if (roundingMode === 'up') expect(abs(rounded) >= abs(value.micros)).toBe(true);
        if (roundingMode === 'half_up' || roundingMode === 'half_even') expect(2n * abs(difference) <= step).toBe(true);
      }),
    );
  });

  it('a rational product is within one micro-unit of the exact value', () => {
    fc.assert(
      fc.property(micros, fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 1n, max: 10n ** 6n }), mode, (a, n, d, roundingMode) => {
        const result = multiplyRational(money(a, SGD), n, d, roundingMode).micros;
        // |result * d - a * n| < d means the result is less than one micro away from a * n / d.
        expect(abs(result * d - a * n) < d).toBe(true);
      }),
    );
  });

  it('formats without trailing zeros beyond the minor unit', () => {
    fc.assert(
      fc.property(amount, (value) => {
        const text = formatMicros(value.micros, value.currency);
        const decimals = text.includes('.') ? text.split('.')[1]!.length : 0;
        expect(decimals).toBeGreaterThanOrEqual(minorUnitDigits(value.currency));
        if (decimals > minorUnitDigits(value.currency)) expect(text.endsWith('0')).toBe(false);
      }),
    );
  });
});

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}
