export interface Suite {
  readonly name: string;
  readonly dialect?: string;
  args(base: string, token: string): string[];
}
export type KnownGaps = Record<string, Record<string, string>>;
export interface Judgement {
  passed: number;
  failed: number;
  gapCount: number;
  failures: string[];
  gapsHere: Record<string, string>;
}
export const SHARED: string;
export const GAPS_FILE: string;
export const SUITES: readonly Suite[];
export function knownGaps(): KnownGaps;
export function capture(cmd: string, args: string[], env?: Record<string, string>, withStderr?: boolean): Promise<string>;
export function runSuite(suite: Suite, base: string, token: string): Promise<string>;
export function judge(suiteName: string, output: string, gaps: KnownGaps): Judgement;
