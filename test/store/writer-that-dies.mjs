// A writer thread entry that dies before it answers (sqlite.test.ts): what a crash in the thread looks like.
process.exit(3);
