// A load generator run as its own process, so that it does not share the server's event loop.
// Input: one JSON argument; output: one JSON line with the requests per second that got a 2xx.
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';

interface LoadSpec {
  url: string;
  key: string;
  accounts: string[];
  hotAccount: string | null;
  seconds: number;
  connections: number;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const pick = () => spec.accounts[Math.floor(Math.random() * spec.accounts.length)]!;

function body(): string {
  const debit = pick();
  let credit = spec.hotAccount ?? pick();
  while (credit === debit) credit = pick();
  return JSON.stringify({ debitAccountId: debit, creditAccountId: credit, amount: '0.01', code: 'bench' });
}

const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.seconds,
  requests: [
    {
      method: 'POST',
      path: '/v1/transfers',
      setupRequest: (request) => ({
        ...request,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.key}`, 'idempotency-key': randomUUID() },
        body: body(),
      }),
    },
  ],
});
console.log(JSON.stringify({ ok: result['2xx'], non2xx: result.non2xx, errors: result.errors, seconds: result.duration }));
