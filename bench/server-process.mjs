// One local stand-in in a process of its own, for the first-request benchmark: `node bench/server-process.mjs
// <s3|dynamo|provider> <dir>` prints {"endpoint": ...} once it serves. DynamoDB, S3 and the provider are separate
// services that answer concurrent calls independently; hosted together in the benchmark's own process, the
// stand-ins would queue each other's work on one thread and charge that to whichever request sends calls at once.
import { startLocalDynamo, startLocalS3 } from '../scripts/local-env.mjs';
import { makePng, startZeroDelayProvider } from './support.mjs';

const [kind, directory] = process.argv.slice(2);
let endpoint;
if (kind === 's3') endpoint = (await startLocalS3({ port: 0, directory })).endpoint;
else if (kind === 'dynamo') endpoint = (await startLocalDynamo({ port: 0 })).endpoint;
else if (kind === 'provider') endpoint = (await startZeroDelayProvider(makePng(1024, 1024, 0.3))).baseUrl;
else throw new Error(`unknown stand-in ${kind}`);
process.stdout.write(`${JSON.stringify({ endpoint })}\n`);
