// A real SMTP server for the email tests, run as a child process (node runs this file as
// TypeScript): smtp-server with STARTTLS (the test's own certificate) and AUTH required.
// Every accepted message is appended to a JSON-lines file (so what it received survives
// a restart of this process): { messageId, from, to, raw, at }.
//   node test/support/smtp-sink.ts <port> <key.pem> <cert.pem> <user> <password> <out.jsonl>
// Recipients starting with "bounce" are refused (550) at RCPT; a message to a recipient
// starting with "slow" is accepted only after SLOW_MS (default 4000) ms.
import { appendFileSync, readFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const [port, keyFile, certFile, user, password, out] = process.argv.slice(2);
if (!port || !keyFile || !certFile || !user || !password || !out) {
  console.error('usage: smtp-sink.ts <port> <key> <cert> <user> <password> <out.jsonl>');
  process.exit(2);
}
const slowMs = Number(process.env.SLOW_MS ?? 4000);

/** Sessions whose client went away: a slow acceptance that finds its client gone delivers nothing. */
const gone = new Set<string>();
const server = new SMTPServer({
  onClose(session) {
    gone.add(session.id);
  },
  secure: false,
  key: readFileSync(keyFile),
  cert: readFileSync(certFile),
  authMethods: ['PLAIN', 'LOGIN'],
  // AUTH only after STARTTLS (the default): nodemailer must upgrade first.
  size: 1024 * 1024,
  logger: false,
  onAuth(auth, _session, callback) {
    if (auth.username === user && auth.password === password) return callback(null, { user });
    return callback(new Error('Invalid username or password'));
  },
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith('bounce')) {
      const err = Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 });
      return callback(err);
    }
    return callback();
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const to = session.envelope.rcptTo.map((r) => r.address);
      const accept = () => {
        // The client died before the server's answer (a worker killed mid-send): as a server
        // that never acknowledged the message, nothing is delivered; the retry sends it.
        if (gone.has(session.id)) return callback();
        const header = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
        const messageId = /^message-id:\s*(\S+)/im.exec(header)?.[1] ?? null;
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
        appendFileSync(out, `${JSON.stringify({ messageId, from, to, raw, at: Date.now() })}\n`);
        callback();
      };
      if (to.some((a) => a.startsWith('slow'))) setTimeout(accept, slowMs);
      else accept();
    });
  },
});
server.on('error', (err) => console.error(`smtp-sink: ${err.message}`));
server.listen(Number(port), '127.0.0.1', () => console.log(`smtp-sink listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
