// Worker entry: piscina calls the default export with each request.
import { handle } from './lane-host.js';
export default handle;
