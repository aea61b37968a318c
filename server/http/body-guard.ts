// Request bodies are refused before they are read when they cannot be served: larger than
// BODY_LIMIT_BYTES by their Content-Length (413), or of a media type no route takes (415):
// every procedure and the payment webhook take application/json, nothing takes
// multipart/form-data, text/plain or anything else. tRPC's own adapter reads a multipart
// body whole, without a limit, so it must never see one. A JSON body without a length
// (chunked) is read by Fastify under bodyLimit and cut off with 413 as soon as it passes it.
// Every such refusal closes the connection, so the rest of the upload is not read either;
// so does any other answer sent before its request body was read (a 403 from a hook, a GET
// with a body no route reads): Node would otherwise read and discard the rest of the body,
// however large, to keep the connection alive.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { errorCodes } from 'fastify';

/** The largest request body any route accepts. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/** The one body type the API takes (tRPC's JSON, the Razorpay webhook's raw JSON). */
const ACCEPTED_MEDIA_TYPE = 'application/json';

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase();
}

export function bodyGuard(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  let refusal: Error | undefined;
  if (hasBody(req)) {
    const type = mediaType(req.headers['content-type']);
    if (Number(req.headers['content-length']) > BODY_LIMIT_BYTES)
      refusal = new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    else if (type !== ACCEPTED_MEDIA_TYPE)
      refusal = new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(type ?? '(none)');
  }
  // The connection closes after the answer: the rest of the body is never read.
  if (refusal) reply.header('connection', 'close');
  done(refusal);
}

/** The request says it carries a body: a non-zero Content-Length, or chunked. */
function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * An answer sent before its request body was read whole (a 413 found while reading a
 * chunked body, a refusal from a hook, a GET whose body no route reads): the connection
 * closes after it, so the rest is not read. (An onSend hook with a callback: no promise per
 * response.)
 */
export function closeOnUnreadBody(
  req: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (err: Error | null, payload: unknown) => void,
): void {
  if (reply.statusCode === 413 || (hasBody(req) && !req.raw.complete)) reply.header('connection', 'close');
  done(null, payload);
}
