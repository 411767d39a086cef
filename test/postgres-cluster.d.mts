export interface RunningPostgres {
  /** The cluster's admin URL (database `postgres`). */
  readonly url: string;
  /** Stops the server at once, keeping its data; `start()` brings it back on the same port. */
  halt(): void;
  start(): void;
  /** Stops the server and removes its data. */
  stop(): void;
}
export function postgresBinaries(): string | undefined;
export function startPostgres(bin: string, options?: { durable?: boolean }): Promise<RunningPostgres>;
/** A new, empty database on the cluster at `adminUrl`; its URL. */
export function freshPostgresDatabase(adminUrl: string): Promise<string>;
