// A test build of mhats that skips fencing, to show that the drill catches it:
//   NODE_OPTIONS="--import /path/to/test/helpers/no-fence/register.mjs" mhats drill ...
// Every process started with it (the drill and the manager it starts) loads
// engine/ops/fence.js from ./fence.mjs instead: fenceOldMaster() does nothing.
// Only tests use this file; nothing in src/ reads it or any variable for it.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
