/**
 * The decode worker thread (decoder.ts starts it): decodes and renders each batch it is sent and hands the
 * result back. An entry of its own, so the thread loads only what decoding needs (no Kafka, no Postgres).
 */
import { parentPort } from 'node:worker_threads';
import { decodeBatch } from './decode.js';
import { unpack, type Packed, type Reply } from './decoder.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.js runs as a worker thread (decoder.ts starts it)');
port.on('message', (message: Packed) => {
  try {
    const batch = decodeBatch(unpack(message), message.rules);
    const transfer: ArrayBuffer[] = [];
    // The body's memory is its own (copy-binary.ts never takes it from Node's shared pool): handed over.
    if (batch.prepared) transfer.push(batch.prepared.body.buffer as ArrayBuffer);
    port.postMessage({ id: message.id, batch } satisfies Reply, transfer);
  } catch (err) {
    port.postMessage({ id: message.id, error: String((err as Error).stack ?? err) } satisfies Reply);
  }
});
