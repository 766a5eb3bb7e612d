import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RingbillError } from '../../errors.ts';
import type { Services } from '../../services.ts';
import { saveTestClock } from '../../store/test-clock-store.ts';
import { addSeconds, isUsageTime, USAGE_TIME_RANGE } from '../../clock/clock.ts';
import { requireOperator } from '../auth.ts';
import { errors, Timestamp } from '../schemas.ts';
import { timestampOf } from '../timestamps.ts';

const ClockState = Type.Object({ now: Timestamp });

/** Only registered with `ringbill serve --test-clock`; otherwise these paths answer 404. */
export function testClockRoutes(services: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/test-clock',
      { schema: { summary: 'The test clock’s current time', tags: ['test clock'], response: { 200: ClockState, ...errors(403) } } },
      async (request) => {
        requireOperator(request);
        return { now: services.clock.now().toISOString() };
      },
    );

    app.post(
      '/test-clock/advance',
      {
        schema: {
          summary: 'Move the test clock forward and run what falls due',
          description:
            'Moves time to `to`, or forward by `seconds`, stopping at each instant where work falls due (hold expiry, ' +
            'and later credit-limit expiry, bill runs, auto top-ups) and running it in order, as Stripe’s test clocks do.',
          tags: ['test clock'],
          // One object with both optional, not a union of two: a bad `seconds` is then reported as
          // `seconds`, not as a missing `to`. Exactly one of them is checked below.
          body: Type.Object(
            { to: Type.Optional(Timestamp), seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 * 366 * 86_400 })) },
            { additionalProperties: false, description: 'Either `to` or `seconds`.' },
          ),
          response: {
            200: Type.Object({ now: Timestamp, jobs: Type.Array(Type.Object({ name: Type.String(), handled: Type.Integer() })) }),
            ...errors(403),
          },
        },
      },
      async (request) => {
        requireOperator(request);
        const { to, seconds } = request.body;
        if ((to === undefined) === (seconds === undefined)) throw new RingbillError('invalid_input', 'body takes either "to" or "seconds"');
        const jobs = await services.scheduler.advanceTo((now) => {
          const target = to !== undefined ? timestampOf(to, 'body/to') : addSeconds(now, seconds!);
          if (target.getTime() < now.getTime()) throw new RingbillError('invalid_input', `the test clock is at ${now.toISOString()} and cannot go back`);
          // Calls and events are stamped with the clock, and their bill periods must be stored.
          if (!isUsageTime(target.getTime())) throw new RingbillError('invalid_input', `the test clock moves ${USAGE_TIME_RANGE}; ${target.toISOString()} is past it`);
          return target;
        });
        await saveTestClock(services.db, services.clock.now());
        return { now: services.clock.now().toISOString(), jobs: [...jobs] };
      },
    );
  };
}
