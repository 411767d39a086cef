// Express 4, installed beside Express 5 as `express4` (npm:express@4), so that the Node adapter is tested on both;
// the API the tests use is the same in both, so it is typed by Express 5's types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
