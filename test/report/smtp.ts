/**
 * A real SMTP receiver (smtp-server, STARTTLS with its built-in certificate, login required) that
 * parses each accepted message with mailparser, and can be told to refuse the first N messages with
 * a temporary error (451), to exercise the report's delivery retries, or to refuse given recipients
 * at RCPT TO while it accepts the others.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReportSmtpReceiver {
  port: number;
  messages: ParsedMail[];
  /** The envelope recipients of each accepted message, in order. */
  recipients: string[][];
  /** DATA commands received, refused ones included. */
  attempts: number;
  close(): Promise<void>;
}

export async function startReceiver(options: {
  user: string;
  password: string;
  /** Refuse this many messages with 451 before accepting; Infinity refuses all. */
  refuseFirst?: number;
  /** Recipients refused at RCPT TO with `code`, the first `times` times they are given (default always). */
  refuseRecipients?: Record<string, { code: number; times?: number }>;
}): Promise<ReportSmtpReceiver> {
  const state = { attempts: 0 };
  const messages: ParsedMail[] = [];
  const recipients: string[][] = [];
  const refusals = new Map<string, number>();
  const server = new SMTPServer({
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password)
        callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onRcptTo(address, _session, callback) {
      const refuse = options.refuseRecipients?.[address.address];
      const times = (refusals.get(address.address) ?? 0) + 1;
      refusals.set(address.address, times);
      if (refuse && times <= (refuse.times ?? Number.POSITIVE_INFINITY)) {
        callback(
          Object.assign(new Error(`mailbox ${address.address} refused`), { responseCode: refuse.code }),
        );
      } else callback();
    },
    onData(stream, session, callback) {
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
          recipients.push(session.envelope.rcptTo.map((r) => r.address));
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
    recipients,
    get attempts() {
      return state.attempts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
