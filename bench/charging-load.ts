// A load generator run as its own process: authorize + terminate pairs over HTTP.
// Input: one JSON argument; output: a line `counting` when the counted part begins, then one JSON
// line with pairs, authorize latencies and the generator's own CPU time.
// node:http with a keep-alive agent rather than fetch: on two cores the generator shares the
// machine with the server, and fetch cost it about twice the CPU per request.
import http from 'node:http';

interface LoadSpec {
  url: string;
  key: string;
  organizations: string[];
  concurrency: number;
  seconds: number;
  /** Calls made first and not counted: caches fill, connections open, the JIT warms. */
  warmupSeconds: number;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
let latencies: number[] = [];
let pairs = 0;
let errors = 0;
let sequence = 0;
let deadline = 0;

function post(path: string, body: unknown): Promise<{ status: number; json: { id?: string } }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${spec.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: text ? (JSON.parse(text) as { id?: string }) : {} }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const organizationId = spec.organizations[Math.floor(Math.random() * spec.organizations.length)]!;
    const callId = `bench-${process.pid}-${++sequence}`;
    const begun = performance.now();
    const authorized = await post('/v1/charging/sessions', { organizationId, destination: '6591234567', callId });
    latencies.push(performance.now() - begun);
    if (authorized.status !== 201 || !authorized.json.id) {
      errors++;
      continue;
    }
    const ended = await post(`/v1/charging/sessions/${authorized.json.id}/terminate`, { usedSeconds: 30 });
    if (ended.status === 200) pairs++;
    else errors++;
  }
}

deadline = performance.now() + spec.warmupSeconds * 1000;
await Promise.all(Array.from({ length: spec.concurrency }, worker));
[latencies, pairs, errors] = [[], 0, 0];
// Tells the parent the counted part begins, so that it can measure the server over the same time.
console.log('counting');
const start = performance.now();
const cpuBefore = process.cpuUsage();
deadline = start + spec.seconds * 1000;
await Promise.all(Array.from({ length: spec.concurrency }, worker));
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const cpu = process.cpuUsage(cpuBefore);
console.log(
  JSON.stringify({
    pairs,
    seconds,
    errors,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
  }),
);
