// The machine's ceiling for comparison: a bare node:http server on as many threads as asked
// (SO_REUSEPORT), which reads each body, parses it as JSON and answers a fixed check-in answer.
// It stores nothing. Prints {"url": …} once every thread listens.
import { createServer } from 'node:http';
import { isMainThread, Worker, workerData } from 'node:worker_threads';

const answer =
  '{"versions":[{"name":"v1.8.0","releaseDate":"2026-01-01T00:00:00Z","minUpgradableVersion":"","tags":["latest"],"extraInfo":null}],"requestIntervalInMinutes":60}';

function listen(port: number): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      JSON.parse(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  return new Promise((resolve) =>
    server.listen({ host: '127.0.0.1', port, reusePort: true }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    }),
  );
}

if (isMainThread) {
  const port = await listen(0);
  const threads = Number(process.argv[2] ?? 1);
  await Promise.all(
    Array.from(
      { length: threads - 1 },
      () =>
        new Promise((resolve) => new Worker(new URL(import.meta.url), { workerData: port }).once('message', resolve)),
    ),
  );
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }));
} else {
  await listen(workerData as number);
  const { parentPort } = await import('node:worker_threads');
  parentPort?.postMessage('listening');
}
