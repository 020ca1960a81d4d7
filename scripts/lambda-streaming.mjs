// Lambda's response-streaming contract, as the Node.js runtime interface client implements it
// (aws-lambda-nodejs-runtime-interface-client: src/HttpResponseStream.js, src/ResponseStream.js, src/UserFunction.js;
// https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html), for the tests that run a streamed
// handler in process and for tests/support/lambda-runtime-client.mjs, which runs a packaged zip:
// - before the handler's module loads, the runtime defines `awslambda.streamifyResponse(handler)`, which marks the
//   handler as streaming (Symbol.for('aws.lambda.runtime.handler.streaming') = 'response'), and
//   `awslambda.HttpResponseStream.from(stream, prelude)`, which sets the stream's content type to
//   application/vnd.awslambda.http-integration-response and, before its first write, writes the prelude (the
//   answer's statusCode and headers as JSON) and 8 NUL bytes; the body follows;
// - a streaming handler is called as `handler(event, responseStream, context)`; the response is done when the
//   stream ends (its returned promise only reports errors).
import { Writable } from 'node:stream';

export const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);

/** Defines `globalThis.awslambda` as the runtime does before it loads a handler. */
export function installAwsLambda() {
  // Other parts of the runtime live there too (Powertools reads `awslambda.InvokeStore`): added to, not replaced.
  globalThis.awslambda = {
    ...globalThis.awslambda,
    streamifyResponse(handler) {
      handler[STREAMING] = 'response';
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType(PRELUDE_CONTENT_TYPE);
        const json = JSON.stringify(prelude);
        stream._onBeforeFirstWrite = (write) => {
          write(json);
          write(DELIMITER);
        };
        return stream;
      },
    },
  };
}

export const isStreaming = (handler) => handler?.[STREAMING] === 'response';

/**
 * The response stream a streaming handler writes to. `sink.begin(contentType)` is called once, before the first
 * bytes (the content type is fixed then, as the runtime sends it as the response's header); `sink.write(chunk)` for
 * each chunk; `sink.end()` when the handler ends the stream.
 */
export function responseStream(sink) {
  let contentType = 'application/octet-stream';
  let begun = false;
  const begin = (stream) => {
    if (begun) return;
    begun = true;
    sink.begin(contentType);
    stream._onBeforeFirstWrite?.((chunk) => sink.write(Buffer.from(chunk)));
  };
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      begin(stream);
      if (chunk.length > 0) sink.write(chunk);
      callback();
    },
    final(callback) {
      begin(stream);
      sink.end();
      callback();
    },
  });
  stream.setContentType = (type) => {
    contentType = type;
  };
  return stream;
}

/** A streamed response's bytes as the function URL reads them: the prelude (status, headers) and the body. */
export function splitPrelude(contentType, bytes) {
  if (contentType !== PRELUDE_CONTENT_TYPE) return { prelude: undefined, body: bytes };
  const at = bytes.indexOf(DELIMITER);
  if (at < 0) throw new Error('streamed response without the prelude delimiter');
  return { prelude: JSON.parse(bytes.subarray(0, at).toString('utf8')), body: bytes.subarray(at + DELIMITER.length) };
}

/**
 * Invokes a streaming handler in this process as the runtime would, and reads its answer as a function URL does:
 * `{ statusCode, headers, body, chunks }`, `chunks` being the body's writes with the time each arrived (ms since the
 * call), to tell an answer streamed from one buffered.
 */
export async function invokeStreamed(handler, event, context) {
  if (!isStreaming(handler)) throw new Error('not a streaming handler (awslambda.streamifyResponse)');
  const started = Date.now();
  let contentType;
  const writes = [];
  let ended;
  const done = new Promise((resolve) => {
    ended = resolve;
  });
  const stream = responseStream({
    begin: (type) => {
      contentType = type;
    },
    write: (chunk) => writes.push({ at: Date.now() - started, bytes: Buffer.from(chunk) }),
    end: () => ended(),
  });
  await handler(event, stream, context);
  await done;
  const { prelude, body } = splitPrelude(contentType, Buffer.concat(writes.map((write) => write.bytes)));
  // The prelude's own two writes come first; the body's chunks follow.
  const bodyChunks = prelude === undefined ? writes : writes.slice(2);
  return {
    statusCode: prelude?.statusCode ?? 200,
    headers: prelude?.headers ?? {},
    body: body.toString('utf8'),
    chunks: bodyChunks.filter((write) => write.bytes.length > 0).map((write) => ({ at: write.at, text: write.bytes.toString('utf8') })),
  };
}
