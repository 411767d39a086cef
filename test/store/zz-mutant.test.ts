import { SqliteStore } from './zz-mutant-store.js';
import { describeStoreContract } from './contract.js';
describeStoreContract('mutant', async () => { const s = new SqliteStore(':memory:'); await s.migrate(); return s; });
