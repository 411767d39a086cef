/**
 * The writer thread: a worker with a connection of its own to the store's file, which writes the large batches of
 * creates (a Bulk request's, an initial load's) while the event loop goes on parsing, checking and planning the next
 * request. SQLite still has one writer at a time: the store hands a batch over only as an exclusive job of its group
 * commit (group-commit.ts), so the two connections never wait for each other's lock. The batch crosses as plain data
 * (CreateRow), its outcomes come back as plain data, and a batch is acknowledged only once the thread has committed
 * it and the WAL file is synced (as on the event loop).
 */
import { Worker } from 'node:worker_threads';
import { UniquenessViolation, UnknownMembers } from '../../core/errors.js';
import type { CreateBatch, CreateOutcome } from './create-batch.js';

/** A batch's outcome as it crosses between threads (an error's class does not). */
export type WireOutcome = 'created' | { readonly unique: string } | { readonly unknownMembers: readonly string[] };

/** What the thread answers for job `job`: its outcomes, or the error that rolled the batch back. */
export type WriterReply =
  | { readonly job: number; readonly outcomes: readonly WireOutcome[] }
  | { readonly job: number; readonly error: { readonly message: string; readonly code?: string } };

export function toWire(o: CreateOutcome): WireOutcome {
  if (o === 'created') return o;
  return o instanceof UniquenessViolation ? { unique: o.attribute } : { unknownMembers: o.ids };
}

function fromWire(o: WireOutcome): CreateOutcome {
  if (o === 'created') return o;
  return 'unique' in o ? new UniquenessViolation(o.unique) : new UnknownMembers(o.unknownMembers);
}

export class WriterThread {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, { resolve: (o: CreateOutcome[]) => void; reject: (e: Error) => void }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextJob = 0;

  constructor(private readonly filename: string, private readonly entry: URL) {}

  /** Writes the batch in a transaction of the thread's connection; settles once it is committed or rolled back. */
  write(batch: CreateBatch): Promise<CreateOutcome[]> {
    const worker = this.start();
    const job = this.nextJob++;
    const written = new Promise<CreateOutcome[]>((resolve, reject) => {
      this.jobs.set(job, { resolve, reject });
      worker.ref(); // a pending batch keeps the process alive; an idle thread does not
      worker.postMessage({ job, batch });
    });
    this.inFlight.add(written);
    const settled = () => this.inFlight.delete(written);
    written.then(settled, settled);
    return written;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    // the batches already handed over are finished (and answered) first; then the thread closes its connection
    await Promise.allSettled(this.inFlight);
    if (!worker) return;
    const exited = new Promise((done) => worker.once('exit', done));
    // an idle thread is unref'd: waiting for it must keep the process alive, or a program whose last step is
    // close() ends (with an unsettled await) before the thread has closed its connection
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.entry, { workerData: { filename: this.filename } });
    worker.on('message', (reply: WriterReply) => {
      const pending = this.jobs.get(reply.job);
      this.jobs.delete(reply.job);
      if (this.jobs.size === 0) worker.unref();
      if (!pending) return;
      if ('outcomes' in reply) pending.resolve(reply.outcomes.map(fromWire));
      else pending.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
    });
    // a thread that dies takes its batches' transactions with it (rolled back): they are refused, and the next
    // batch starts a new thread
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [job, pending] of this.jobs) {
        this.jobs.delete(job);
        pending.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
