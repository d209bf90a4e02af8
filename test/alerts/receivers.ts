/**
 * Real receivers for alert tests: an SMTP server (smtp-server, STARTTLS with its built-in certificate,
 * authentication required) that parses each message with mailparser before accepting it, and can
 * refuse the first recipients or messages with a given reply code (451 greylisting), and an HTTP
 * webhook receiver whose answers can be scripted (500 then 200, ...).
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { simpleParser, type ParsedMail } from "mailparser";
import pino, { type Logger } from "pino";
import { SMTPServer } from "smtp-server";

export interface SmtpReceiver {
  port: number;
  messages: ParsedMail[];
  /** Whether each accepted session had upgraded to TLS. */
  secured: boolean[];
  /** The envelope recipients of each accepted message. */
  recipients: string[][];
  /** RCPT TO commands received, refused ones included. */
  readonly recipientsOffered: number;
  close(): Promise<void>;
}

/** Answer the first `first` RCPT TO (greylisting's place) or DATA commands with `code`. */
export interface SmtpRefusal {
  at: "rcpt" | "data";
  code: number;
  first: number;
  /** Refuse only this recipient (at RCPT TO); the others are accepted. */
  only?: string;
}

export async function startSmtpReceiver(credentials: {
  user: string;
  password: string;
  refuse?: SmtpRefusal;
}): Promise<SmtpReceiver> {
  const messages: ParsedMail[] = [];
  const secured: boolean[] = [];
  const recipients: string[][] = [];
  const seen = { rcpt: 0, data: 0 };
  // Commands the refusal applies to (only its recipient's, when it names one).
  const refusable = { rcpt: 0, data: 0 };
  const refusal = (at: SmtpRefusal["at"], address?: string): Error | null => {
    seen[at] += 1;
    const refuse = credentials.refuse;
    if (refuse?.at !== at || (refuse.only !== undefined && address !== refuse.only)) return null;
    refusable[at] += 1;
    if (refusable[at] > refuse.first) return null;
    const text = refuse.code < 500 ? "greylisted, try again later" : "mailbox unavailable";
    return Object.assign(new Error(text), { responseCode: refuse.code });
  };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: [],
    onRcptTo(address, _session, callback) {
      callback(refusal("rcpt", address.address) ?? undefined);
    },
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.password) {
        callback(null, { user: auth.username });
      } else {
        callback(new Error("Invalid username or password"));
      }
    },
    onData(stream, session, callback) {
      const refused = refusal("data");
      if (refused) {
        stream.resume();
        stream.once("end", () => callback(refused));
        return;
      }
      // Accept (answer 250) only once the message is parsed, so a resolved send means it is here.
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          secured.push(session.secure);
          recipients.push(session.envelope.rcptTo.map((r) => r.address));
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    secured,
    recipients,
    get recipientsOffered() {
      return seen.rcpt;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Statuses to answer with, in order; 200 once they are used up. */
  respondWith(...statuses: number[]): void;
  /** Holds every answer (the request is recorded at once) until the returned function is called. */
  hold(): () => void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const script: number[] = [];
  let gate: Promise<void> = Promise.resolve();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      requests.push({
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      void gate.then(() => {
        const status = script.shift() ?? 200;
        response.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "nope");
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respondWith: (...statuses) => script.push(...statuses),
    hold: () => {
      let release = () => {};
      gate = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    close: async () => {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A pino logger writing into memory, to assert what was (and was not) logged. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, sink), text: () => lines.join("") };
}
