import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDependencies, type DependencyOverrides } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { optionalProviders } from '../../lib/optional-providers.js';
import { startCapture, type Capture } from './capture-logs.js';
import { withContract } from './contract.js';
import { startLocalDynamo, type LocalDynamo } from './dynamo.js';
import { serversEnv } from './env.js';
import { OpenAITestServer, imageReply } from './openai-test-server.js';
import { bedrockImage, geminiImage } from './provider-replies.js';
import { startLocalS3, type LocalS3 } from './s3-server.js';

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ProviderStandIns {
  s3: LocalS3;
  dynamo: LocalDynamo;
  /** OpenAI's, Gemini's and Bedrock's wire protocols, each answering `image` by default. */
  openai: OpenAITestServer;
  gemini: OpenAITestServer;
  bedrock: OpenAITestServer;
  /** This test's own state table (a new one per test). */
  table: string;
}

/**
 * A suite on s3rver, dynalite and the three providers' stand-ins, reset before each test, with the real API handler
 * wired to all of them (Gemini and Bedrock configured; the suite says which models are listed). Registers the
 * suite's hooks; the stand-ins are read through the returned object once `beforeAll` has run.
 */
export function useProviderStandIns(image: Buffer, tablePrefix: string) {
  const b64 = image.toString('base64');
  const servers = {} as ProviderStandIns;
  let tables = 0;
  let capture: Capture;

  beforeAll(async () => {
    [servers.s3, servers.dynamo, servers.openai, servers.gemini, servers.bedrock] = await Promise.all([
      startLocalS3(),
      startLocalDynamo(),
      OpenAITestServer.start(imageReply(b64)),
      OpenAITestServer.start(geminiImage(b64), 'gemini'),
      OpenAITestServer.start(bedrockImage(b64), 'bedrock'),
    ]);
    process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
    capture = startCapture();
  });

  afterAll(async () => {
    capture.stop();
    await Promise.all([servers.openai.close(), servers.gemini.close(), servers.bedrock.close(), servers.dynamo.stop()]);
    await servers.s3.stop();
  });

  beforeEach(async () => {
    servers.openai.reset(imageReply(b64));
    servers.gemini.reset(geminiImage(b64));
    servers.bedrock.reset(bedrockImage(b64));
    await servers.s3.clear();
    tables += 1;
    servers.table = `${tablePrefix}-${tables}`;
    await servers.dynamo.createTable(servers.table);
  });

  /** The API handler on these servers, `env` added to the live configuration, answers checked against the contract. */
  const makeHandler = (env: Record<string, string> = {}, overrides: DependencyOverrides = {}): Handler => {
    const { s3, dynamo, openai, gemini, bedrock, table } = servers;
    const config = parseConfig(
      serversEnv(
        { openaiBaseUrl: openai.baseUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket, dynamoEndpoint: dynamo.endpoint, table },
        {
          IMAGE_PROVIDER: 'live',
          GEMINI_API_KEY: 'gemini-test-key-1414213562',
          GEMINI_BASE_URL: gemini.origin,
          BEDROCK_REGION: 'us-west-2',
          BEDROCK_ENDPOINT: bedrock.origin,
          // These suites hold the stored file to the provider's answer byte for byte; this service's own manifest
          // (CONTENT_CREDENTIALS=sign) has its suite in generate-image.test.ts and edits.test.ts.
          CONTENT_CREDENTIALS: 'verify',
          ...env,
        },
      ),
    );
    const deps = createDependencies(config, { dynamo: dynamo.client, providers: optionalProviders, ...overrides });
    return withContract(createApiHandler(deps) as unknown as Handler);
  };

  return { servers, makeHandler };
}
