// REST refuses what it cannot serve with a status that says why: 413 for a body over the limit, 415 for a body
// that is not JSON, and a slow client is cut off after the header and request timeouts.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { connect } from 'node:net';
import { request } from 'node:http';
import { TypeUrl } from '../../src/resource/index.js';
import { cluster } from '../support/sample-resources.js';
import { NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';
import type { ServerOptions } from '../../src/server/index.js';

let h: Harness | undefined;
afterEach(() => h?.stop());

async function start(options: ServerOptions = {}): Promise<number> {
  h = await startHarness(options);
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
  return h.xds.listenRest(0, '127.0.0.1');
}

/** Posts `body` in chunks with `node:http` (no content-length when `chunked`), resolving with status and text. */
function post(port: number, body: Buffer, headers: Record<string, string | number>, chunked = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v3/discovery:clusters', headers: chunked ? headers : { ...headers, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    const step = 64 * 1024;
    let offset = 0;
    const writeMore = (): void => {
      while (offset < body.length) {
        const ok = req.write(body.subarray(offset, offset + step));
        offset += step;
        if (!ok) {
          req.once('drain', writeMore);
          return;
        }
      }
      req.end();
    };
    writeMore();
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

test('REST: a body over maxReceiveMessageLength is 413 naming the option, by content-length or as it streams', async () => {
  const port = await start({ maxReceiveMessageLength: 1024 * 1024 });
  const big = Buffer.from(JSON.stringify({ node: { id: 'x'.repeat(50 * 1024 * 1024) } }));
  const declared = await post(port, big, JSON_TYPE);
  assert.equal(declared.status, 413);
  assert.match(declared.text, /larger than 1048576 bytes.*maxReceiveMessageLength/);
  const streamed = await post(port, big, JSON_TYPE, true);
  assert.equal(streamed.status, 413);
  // The server still answers the next client.
  const ok = await post(port, Buffer.from(JSON.stringify({ node: NODE })), JSON_TYPE);
  assert.equal(ok.status, 200);
});

test('REST: a body that is not application/json is 415', async () => {
  const port = await start();
  const body = Buffer.from(JSON.stringify({ node: NODE }));
  const plain = await post(port, body, { 'content-type': 'text/plain' });
  assert.equal(plain.status, 415);
  assert.match(plain.text, /content-type "text\/plain" is not accepted.*application\/json/);
  assert.equal((await post(port, body, {})).status, 415, 'no content-type');
  assert.equal((await post(port, body, { 'content-type': 'application/json; charset=utf-8' })).status, 200);
});

/** Opens a raw connection, sends `text` one byte per `everyMs`, and resolves with what the server answered when it closed. */
function trickle(port: number, text: string, everyMs: number): Promise<{ answer: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < text.length && socket.writable) socket.write(text[i++]);
    }, everyMs);
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
  });
}

test('REST: headers trickled byte by byte are cut off after restHeadersTimeoutMs', async () => {
  const port = await start({ restHeadersTimeoutMs: 500, restRequestTimeoutMs: 1000 });
  const { answer, ms } = await trickle(port, `POST /v3/discovery:clusters HTTP/1.1\r\nhost: x\r\n${'x-pad: y\r\n'.repeat(200)}\r\n`, 50);
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(ms < 3000, `closed after ${ms} ms`);
});

test('REST: a body trickled byte by byte is cut off after restRequestTimeoutMs', async () => {
  const port = await start({ restHeadersTimeoutMs: 500, restRequestTimeoutMs: 1000 });
  const body = JSON.stringify({ node: NODE, padding: 'p'.repeat(500) });
  const head = `POST /v3/discovery:clusters HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
  const { answer, ms } = await trickle(port, head + body, 20);
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(ms < 4000, `closed after ${ms} ms`);
});

test('REST: timeout options are checked', async () => {
  await assert.rejects(startHarness({ restHeadersTimeoutMs: 5000, restRequestTimeoutMs: 1000 }), /restHeadersTimeoutMs \(5000\) must not exceed restRequestTimeoutMs/);
});
