/**
 * An HTTP proxy in front of s3rver that records every request Haven sends and can answer some of them
 * the way AWS S3 does where s3rver cannot (Object Lock: retention headers on HEAD, a DeleteObjects
 * refused for a locked object, a bucket without Object Lock). The SDK talks real HTTP to it, so what
 * is tested is what a real server would receive and send back. It can also go down and come back on
 * the same port (a destination that is unreachable for a while). Connections are not kept alive, so
 * a client never reuses a socket the proxy dropped when it went down: it gets "connection refused".
 */
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path without the query, decoded: `/bucket/prefix/key`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body, for the small requests the proxy reads (POST ?delete). */
  body?: string;
}

/**
 * What a rule does with a request: answer it itself, forward it and add response headers, or hold it
 * until a promise settles and then go on with the next rules (requests made to meet, for races).
 */
export type ProxyAction =
  | { respond: { status: number; headers?: Record<string, string>; body?: string } }
  | { addResponseHeaders: Record<string, string> }
  | { holdUntil: Promise<unknown> };

export type ProxyRule = (request: RecordedRequest) => ProxyAction | undefined;

export interface S3Proxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** Checked in order; the first that returns an action wins. */
  rules: ProxyRule[];
  /** Stops listening and drops open connections: clients get "connection refused". */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Proxy(upstream: string): Promise<S3Proxy> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const rules: ProxyRule[] = [];
  const sockets = new Set<Socket>();

  const handle: Parameters<typeof createServer>[1] = (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://proxy");
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        headers: req.headers,
      };
      // Only multi-object deletes are read whole (rules look at their keys); everything else streams.
      let buffered: Buffer | undefined;
      if (recorded.method === "POST" && url.searchParams.has("delete")) {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        buffered = Buffer.concat(chunks);
        recorded.body = buffered.toString("utf8");
      }
      requests.push(recorded);
      let extraHeaders: Record<string, string> = {};
      for (const rule of rules) {
        const action = rule(recorded);
        if (!action) continue;
        if ("holdUntil" in action) {
          await action.holdUntil.catch(() => undefined);
          continue;
        }
        if ("respond" in action) {
          const body = action.respond.body ?? "";
          res.writeHead(action.respond.status, {
            connection: "close",
            "content-type": "application/xml",
            "content-length": Buffer.byteLength(body),
            "x-amz-request-id": "proxy",
            ...action.respond.headers,
          });
          res.end(recorded.method === "HEAD" ? undefined : body);
          return;
        }
        extraHeaders = { ...extraHeaders, ...action.addResponseHeaders };
        break;
      }
      const forward = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, {
            ...upstreamRes.headers,
            ...extraHeaders,
            connection: "close",
          });
          upstreamRes.pipe(res);
        },
      );
      forward.on("error", (error) => res.destroy(error));
      if (buffered) forward.end(buffered);
      else req.pipe(forward);
    })().catch((error: unknown) => res.destroy(error as Error));
  };

  let server: Server = createServer(handle);
  const track = (s: Server) =>
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
  track(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;

  const goDown = async () => {
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    rules,
    goDown,
    async comeBack() {
      if (server.listening) return;
      const next = createServer(handle);
      track(next);
      next.listen(port, "127.0.0.1");
      await once(next, "listening");
      server = next;
    },
    stop: goDown,
  };
}

const XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** The error document S3 answers a failed request with. */
export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
}

/** A DeleteObjects answer (HTTP 200) in which each key failed with `code`, as AWS answers for locked objects. */
export function deleteErrorsXml(keys: string[], code: string, message: string): string {
  const errors = keys.map(
    (key) => `<Error><Key>${key}</Key><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult ${XMLNS}>${errors.join("")}</DeleteResult>`;
}

/** The keys of a DeleteObjects request body. */
export function deleteRequestKeys(body: string | undefined): string[] {
  return [...(body ?? "").matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] as string);
}

/** GetObjectLockConfiguration's answer for a bucket with Object Lock enabled. */
export function objectLockEnabledXml(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ObjectLockConfiguration ${XMLNS}><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`;
}
