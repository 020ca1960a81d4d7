// One local stand-in in a process of its own, for the first-request benchmark: `node bench/server-process.mjs
// <s3 <dir>|dynamo|provider|jwks <key set JSON>|ssm>` prints {"endpoint": ...} once it serves. DynamoDB, S3 and the provider are separate
// services that answer concurrent calls independently; hosted together in the benchmark's own process, the
// stand-ins would queue each other's work on one thread and charge that to whichever request sends calls at once.
import { createServer } from 'node:http';
import { startLocalDynamo, startLocalS3 } from '../scripts/local-env.mjs';
import { makePng, startZeroDelayProvider } from './support.mjs';

/** A server answering every request with the same JSON (`jwks`: the key set given; `ssm`: a GetParameter answer). */
async function fixedJson(body) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

const [kind, argument] = process.argv.slice(2);
let endpoint;
if (kind === 's3') endpoint = (await startLocalS3({ port: 0, directory: argument })).endpoint;
else if (kind === 'dynamo') endpoint = (await startLocalDynamo({ port: 0 })).endpoint;
else if (kind === 'provider') endpoint = (await startZeroDelayProvider(makePng(1024, 1024, 0.3))).baseUrl;
else if (kind === 'jwks') endpoint = `${await fixedJson(argument)}/.well-known/jwks.json`;
else if (kind === 'ssm')
  endpoint = await fixedJson(JSON.stringify({ Parameter: { Name: '/bench/openai-api-key', Type: 'SecureString', Value: 'sk-bench' } }));
else throw new Error(`unknown stand-in ${kind}`);
process.stdout.write(`${JSON.stringify({ endpoint })}\n`);
