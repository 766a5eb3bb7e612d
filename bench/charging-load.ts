// A load generator run as its own process: authorize + terminate pairs over HTTP.
// Input: one JSON argument; output: one JSON line with pairs/s and authorize latencies.
interface LoadSpec {
  url: string;
  key: string;
  organizations: string[];
  concurrency: number;
  seconds: number;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const headers = { authorization: `Bearer ${spec.key}`, 'content-type': 'application/json' };
const latencies: number[] = [];
let pairs = 0;
let errors = 0;
let sequence = 0;
const deadline = performance.now() + spec.seconds * 1000;
const start = performance.now();

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const organizationId = spec.organizations[Math.floor(Math.random() * spec.organizations.length)]!;
    const callId = `bench-${process.pid}-${++sequence}`;
    const begun = performance.now();
    const authorized = await fetch(`${spec.url}/v1/charging/sessions`, { method: 'POST', headers, body: JSON.stringify({ organizationId, destination: '6591234567', callId }) });
    latencies.push(performance.now() - begun);
    const session = (await authorized.json()) as { id?: string };
    if (authorized.status !== 201 || !session.id) {
      errors++;
      continue;
    }
    const ended = await fetch(`${spec.url}/v1/charging/sessions/${session.id}/terminate`, { method: 'POST', headers, body: JSON.stringify({ usedSeconds: 30 }) });
    await ended.arrayBuffer();
    if (ended.status === 200) pairs++;
    else errors++;
  }
}

await Promise.all(Array.from({ length: spec.concurrency }, worker));
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({ pairs, seconds, errors, p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 }),
);
