import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/**
 * The HTTP/2 receive window a teacher server advertises by default (4 MiB),
 * per stream and per connection. Node's default is 64 KiB: a request larger
 * than that (128 Fashion-MNIST images in uint8 are 100 KB) is sent in two
 * parts, the second only after the client has read the server's
 * WINDOW_UPDATE. A student's event loop is blocked for a whole training step
 * at a time, so the rest of its request then waits for the end of the step
 * and the teacher's work no longer overlaps the student's.
 */
export const DEFAULT_SERVER_WINDOW_BYTES = 4 * 1024 * 1024;

/** HTTP/2's upper bound on a flow-control window. */
const MAX_WINDOW_BYTES = 2 ** 31 - 1;

/** The parts of grpc-js's Server that hold its HTTP/2 settings and servers. */
interface ServerInternals {
  commonServerOptions?: http2.ServerOptions;
  http2Servers?: Map<http2.Http2Server, unknown>;
}

/**
 * Raises the HTTP/2 receive window of `server` to `bytes`, per stream and per
 * connection, so a client can hand a whole request to the kernel at once.
 * grpc-js (1.14) has no server option for it, so this sets the settings its
 * HTTP/2 servers are created with: call it after `new grpc.Server()` and
 * before `bindAsync`, and pass the result's `watchSessions` the server once
 * bound. Where the grpc-js internals are not as expected nothing changes
 * and the outcome says so (the server then works with 64 KiB windows).
 */
export function widenServerWindow(
  server: grpc.Server,
  bytes: number = DEFAULT_SERVER_WINDOW_BYTES,
): { streams: boolean; watchSessions: () => boolean } {
  if (!Number.isInteger(bytes) || bytes < 65_535 || bytes > MAX_WINDOW_BYTES) {
    throw new RangeError(
      `window: expected an integer number of bytes in [65535, ${MAX_WINDOW_BYTES}], ` +
        `got ${bytes}`,
    );
  }
  const internals = server as unknown as ServerInternals;
  const common = internals.commonServerOptions;
  let streams = false;
  if (common && typeof common === 'object') {
    common.settings = { ...common.settings, initialWindowSize: bytes };
    streams = true;
  }
  const watchSessions = (): boolean => {
    const servers = internals.http2Servers;
    if (!(servers instanceof Map) || servers.size === 0) return false;
    for (const h2 of servers.keys()) {
      if (typeof h2?.on !== 'function') return false;
      h2.on('session', (session: http2.ServerHttp2Session) => {
        try {
          session.setLocalWindowSize(bytes);
        } catch {
          // A session already closing: nothing to widen.
        }
      });
    }
    return true;
  };
  return { streams, watchSessions };
}
