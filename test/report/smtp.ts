/**
 * A real SMTP receiver (smtp-server, STARTTLS with its built-in certificate, login required) that
 * parses each accepted message with mailparser, and can be told to refuse the first N messages with
 * a temporary error (451), to exercise the report's delivery retries.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReportSmtpReceiver {
  port: number;
  messages: ParsedMail[];
  /** DATA commands received, refused ones included. */
  attempts: number;
  close(): Promise<void>;
}

export async function startReceiver(options: {
  user: string;
  password: string;
  /** Refuse this many messages with 451 before accepting; Infinity refuses all. */
  refuseFirst?: number;
}): Promise<ReportSmtpReceiver> {
  const state = { attempts: 0 };
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password)
        callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, _session, callback) {
      state.attempts += 1;
      if (state.attempts <= (options.refuseFirst ?? 0)) {
        stream.resume();
        stream.once("end", () =>
          callback(Object.assign(new Error("try again later"), { responseCode: 451 })),
        );
        return;
      }
      // Answer 250 only once the message is parsed, so a resolved send means it is here. cid: links are
      // kept as sent (mailparser would otherwise turn them into data: URLs).
      simpleParser(stream, { keepCidLinks: true }).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    get attempts() {
      return state.attempts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
