// A program that loads a batch through the writer thread, closes the store, and then says so (sqlite.test.ts):
// closing must keep the process alive until the thread has closed, or the program ends before its last line.
import { SqliteStore } from '../../dist/store/sqlite/sqlite-store.js';

const store = new SqliteStore(process.argv[2]);
await store.migrate();
const org = await store.ensureOrganization('acme');
const items = Array.from({ length: 100 }, (_, i) => ({ id: `u${i}`, write: { attributes: { userName: `u${i}` }, index: [], uniqueKeys: [] } }));
await store.createResources(org.id, 'User', new Date().toISOString(), items);
await store.close();
process.stdout.write('closed\n');
