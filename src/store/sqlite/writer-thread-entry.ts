/** The writer thread's own code (see writer-thread.ts): a store on the same file, writing each batch it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite-store.js';
import type { CreateBatch } from './create-batch.js';
import { toWire, type WriterReply } from './writer-thread.js';

const { filename } = workerData as { filename: string };
const store = new SqliteStore(filename, { writerThread: false });
const port = parentPort!;

port.on('message', (message: 'close' | { job: number; batch: CreateBatch }) => {
  if (message === 'close') return void store.close().then(() => port.close());
  const { job, batch } = message;
  let reply: WriterReply;
  try {
    reply = { job, outcomes: store.commitCreateBatch(batch).map(toWire) };
  } catch (e) {
    const error = e as Error & { code?: unknown };
    reply = { job, error: { message: error.message, ...(typeof error.code === 'string' ? { code: error.code } : {}) } };
  }
  port.postMessage(reply);
});
