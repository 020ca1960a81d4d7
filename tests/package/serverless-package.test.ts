import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { TRAINED_ALGORITHMIC_MEDIA } from '../../lib/domain/image-job.js';
import { readC2pa } from '../support/c2pa-reader.js';
import { TEST_C2PA_SIGNER } from '../support/env.js';
import { httpEvent } from '../support/lambda.js';
import { splitPrelude } from '../../scripts/lambda-streaming.mjs';
import { staticImportsOf } from '../../scripts/static-imports.mjs';
import { sseEvents } from '../support/sse.js';
import { startLocalS3 } from '../support/s3-server.js';
import { ROOT, SERVERLESS_BIN, run } from '../support/processes.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped
type Json = Record<string, any>;

let dir: string;
let template: Json;
let resources: Json;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dia-package-'));
  // No AWS credentials at all: packaging must not need them.
  const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none-configured' };
  // A stage that lists a Bedrock model next to OpenAI's: the worker may invoke exactly that one.
  const result = await run(
    [SERVERLESS_BIN, 'package', '--stage', 'prod', '--package', dir, '--param', `imageModels=gpt-image-2,${BEDROCK_MODEL}`],
    { env, timeoutMs: 120_000 },
  );
  if (result.code !== 0) throw new Error(`serverless package failed:\n${result.output}`);
  template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Json;
  resources = template['Resources'] as Json;
}, 150_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BEDROCK_MODEL = 'bedrock/stability.stable-image-core-v1:1';

const ofType = (type: string): Json[] => Object.values(resources).filter((resource) => resource['Type'] === type);
const one = (type: string): Json => {
  const found = ofType(type);
  expect(found).toHaveLength(1);
  return found[0] as Json;
};
const text = (value: unknown): string => JSON.stringify(value);

const fn = (logicalId: string): Json => (resources[logicalId] as Json)['Properties'] as Json;
const api = (): Json => fn('GenerateImageLambdaFunction');
const worker = (): Json => fn('RunImageJobLambdaFunction');
/** Every statement of an IAM role's inline policies. */
const statementsOf = (roleId: string): Json[] =>
  (resources[roleId] as Json)['Properties']['Policies'].flatMap((policy: Json) => policy['PolicyDocument']['Statement']) as Json[];
const actionsOf = (statements: Json[]): string[] => statements.flatMap((statement) => [statement['Action']].flat() as string[]).sort();
const withPrefix = (statements: Json[], prefix: string): Json[] =>
  statements.filter((statement) => [statement['Action']].flat().some((action: string) => action.startsWith(prefix)));

describe('serverless package (stage prod)', () => {
  it('deploys the API and the worker on nodejs24.x arm64, the API inside the gateway limit, the worker with minutes', () => {
    expect(ofType('AWS::Lambda::Function')).toHaveLength(3);
    expect(api()).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'functions/generate-image/handler.handler' });
    expect(api()['Timeout']).toBeLessThanOrEqual(29);
    expect(worker()).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'functions/run-image-job/handler.handler' });
    expect(worker()['Timeout']).toBeGreaterThanOrEqual(300);
    // The waiting function needs no more memory than the one that handles the image bytes.
    expect(api()['MemorySize']).toBeLessThanOrEqual(worker()['MemorySize'] as number);
  });

  it('feeds the worker through asynchronous invocation with bounded concurrency, retries and a dead-letter queue', () => {
    expect(worker()['ReservedConcurrentExecutions']).toBe(10);
    const invokeConfig = one('AWS::Lambda::EventInvokeConfig')['Properties'];
    expect(invokeConfig['FunctionName']).toEqual({ Ref: 'RunImageJobLambdaFunction' });
    expect(invokeConfig['MaximumRetryAttempts']).toBe(2);
    expect(invokeConfig['DestinationConfig']['OnFailure']['Destination']).toEqual({ 'Fn::GetAtt': ['WorkerDeadLetterQueue', 'Arn'] });
    expect(one('AWS::SQS::Queue')['Properties']).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    expect(api()['Environment']['Variables']['WORKER_FUNCTION_NAME']).toBe('durable-image-api-prod-runImageJob');
    expect(worker()['Environment']['Variables']).not.toHaveProperty('WORKER_FUNCTION_NAME');
  });

  it('routes every API route, and everything else, to the API function (JSON 404/405 from the router)', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map((route) => route['Properties']['RouteKey'] as string)
      .sort();
    expect(routes).toEqual([
      '$default',
      'DELETE /images/{id}',
      'GET /',
      'GET /app.css',
      'GET /app.js',
      'GET /images',
      'GET /images/{id}',
      'GET /openapi.json',
      'GET /usage',
      'POST /images',
      'POST /uploads',
    ]);
    const cors = one('AWS::ApiGatewayV2::Api')['Properties']['CorsConfiguration'];
    expect(cors['AllowMethods']).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
    expect(cors['AllowHeaders']).toEqual(expect.arrayContaining(['Prefer', 'Idempotency-Key']));
    expect(cors['ExposeHeaders']).toEqual(expect.arrayContaining(['Location', 'Retry-After', 'Preference-Applied']));
  });

  it('wires the environment to the stack: bucket, CloudFront URL, per-stage SSM names, no secrets inline', () => {
    for (const env of [api()['Environment']['Variables'] as Json, worker()['Environment']['Variables'] as Json]) {
      expect(env['IMAGE_BUCKET']).toEqual({ Ref: 'ImageBucket' });
      expect(text(env['PUBLIC_BASE_URL'])).toContain('"ImageDistribution","DomainName"');
      expect(env['IMAGE_PROVIDER']).toBe('live');
      expect(env['IMAGE_MODELS']).toBe(`gpt-image-2,${BEDROCK_MODEL}`);
      expect(env['OPENAI_API_KEY_PARAMETER']).toBe('/durable-image-api/prod/openai-api-key');
      expect(env['AZURE_OPENAI_API_KEY_PARAMETER']).toBe('/durable-image-api/prod/azure-openai-api-key');
      expect(env['GEMINI_API_KEY_PARAMETER']).toBe('/durable-image-api/prod/gemini-api-key');
      expect(env['BEDROCK_REGION']).toBe('us-west-2');
      expect(env['WEBHOOK_SECRET_PARAMETER']).toBe('/durable-image-api/prod/webhook-secret');
      expect(env['C2PA_SIGNER_PARAMETER']).toBe('/durable-image-api/prod/c2pa-signer');
      expect(env['API_KEY_HASHES']).toBe('{{resolve:ssm:/durable-image-api/prod/api-key-hashes}}');
      expect(env['STATE_TABLE']).toEqual({ Ref: 'StateTable' });
      expect(env['MODERATION']).toBe('fail-closed');
      expect(env['GLOBAL_DAILY_SPEND_LIMIT_USD']).toBe('200');
      expect(env['CLOUDFRONT_DISTRIBUTION_ID']).toEqual({ Ref: 'ImageDistribution' });
      for (const name of ['OPENAI_API_KEY', 'WEBHOOK_SECRET', 'DYNAMODB_ENDPOINT', 'S3_ENDPOINT', 'LAMBDA_ENDPOINT', 'NODE_OPTIONS']) {
        expect(env).not.toHaveProperty(name);
      }
    }
  });

  it('expires previews and uploads after a day, and nothing else: images and records are permanent', () => {
    expect(resources['ImageBucket']['Properties']['LifecycleConfiguration']).toEqual({
      Rules: [
        { Id: 'ExpirePreviews', Status: 'Enabled', Prefix: 'images/previews/', ExpirationInDays: 1 },
        { Id: 'ExpireUploads', Status: 'Enabled', Prefix: 'uploads/', ExpirationInDays: 1 },
      ],
    });
  });

  it('takes browser uploads (POST only) from the origins the API allows', () => {
    expect(resources['ImageBucket']['Properties']['CorsConfiguration']).toEqual({
      CorsRules: [{ AllowedMethods: ['POST'], AllowedOrigins: ['https://app.example.com'], AllowedHeaders: ['*'], MaxAge: 3600 }],
    });
  });

  it('keeps the bucket private: public access blocked, no ACLs, encrypted, TLS only', () => {
    const bucket = resources['ImageBucket'];
    expect(bucket['Properties']['PublicAccessBlockConfiguration']).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket['Properties']['OwnershipControls']).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucket['Properties']).not.toHaveProperty('AccessControl');
    expect(text(bucket['Properties']['BucketEncryption'])).toContain('SSEAlgorithm');
    const statements = resources['ImageBucketPolicy']['Properties']['PolicyDocument']['Statement'] as Json[];
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    for (const statement of statements.filter((s) => s['Effect'] === 'Allow')) {
      expect(statement['Principal']).not.toBe('*');
    }
  });

  it('lets only this CloudFront distribution, through OAC, read only the public image prefix', () => {
    const statements = resources['ImageBucketPolicy']['Properties']['PolicyDocument']['Statement'] as Json[];
    const allows = statements.filter((s) => s['Effect'] === 'Allow');
    expect(allows).toHaveLength(1);
    const allow = allows[0] as Json;
    expect(allow['Principal']).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(allow['Action']).toBe('s3:GetObject');
    expect(text(allow['Resource'])).toContain('/images/*');
    expect(text(allow['Resource'])).not.toContain('records');
    expect(text(allow['Condition'])).toContain('"Ref":"ImageDistribution"');

    const distribution = one('AWS::CloudFront::Distribution')['Properties']['DistributionConfig'];
    const origin = distribution['Origins'][0];
    expect(origin['OriginAccessControlId']).toEqual({ 'Fn::GetAtt': ['ImageOriginAccessControl', 'Id'] });
    expect(origin['S3OriginConfig']).toEqual({ OriginAccessIdentity: '' });
    expect(one('AWS::CloudFront::OriginAccessControl')['Properties']['OriginAccessControlConfig']).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
    });
    expect(distribution['DefaultCacheBehavior']['ViewerProtocolPolicy']).toBe('redirect-to-https');
  });

  it('answers 404 at the edge for anything outside /images/ (checked by running the CloudFront function)', () => {
    const code = resources['OnlyImagesFunction']['Properties']['FunctionCode'] as string;
    const handler = new Function(`${code}; return handler;`)() as (event: Json) => Json;
    expect(handler({ request: { uri: '/images/2026/11/25/a.png' } })).toEqual({ uri: '/images/2026/11/25/a.png' });
    expect(handler({ request: { uri: '/records/2026/11/25/a.json' } })).toMatchObject({ statusCode: 404 });
    expect(handler({ request: { uri: '/' } })).toMatchObject({ statusCode: 404 });
  });

  it('serves the Generate page at /app/ and the API at /api/ on the image domain (checked by running the function)', () => {
    const distribution = one('AWS::CloudFront::Distribution')['Properties']['DistributionConfig'];
    const origin = (distribution['Origins'] as Json[]).find((o) => o['Id'] === 'api') as Json;
    expect(text(origin['DomainName'])).toContain('"HttpApi","ApiEndpoint"');
    expect(origin['CustomOriginConfig']).toMatchObject({ OriginProtocolPolicy: 'https-only' });
    const behaviors = distribution['CacheBehaviors'] as Json[];
    expect(behaviors.map((b) => [b['PathPattern'], b['TargetOriginId']])).toEqual([
      ['/app*', 'api'],
      ['/api/*', 'api'],
    ]);
    expect(behaviors[1]?.['AllowedMethods']).toEqual(expect.arrayContaining(['POST', 'DELETE']));
    // Nothing of the API is cached, and Authorization reaches it on GET too.
    const cache = resources['ApiCachePolicy']['Properties']['CachePolicyConfig'];
    expect(cache).toMatchObject({ MinTTL: 0, DefaultTTL: 0 });
    expect(cache['ParametersInCacheKeyAndForwardedToOrigin']['HeadersConfig']['Headers']).toEqual(['Authorization']);
    const code = resources['AppPathFunction']['Properties']['FunctionCode'] as string;
    const handler = new Function(`${code}; return handler;`)() as (event: Json) => Json;
    const uri = (path: string): unknown => handler({ request: { uri: path } })['uri'] ?? handler({ request: { uri: path } })['statusCode'];
    expect(uri('/app/')).toBe('/');
    expect(uri('/app/app.js')).toBe('/app.js');
    expect(uri('/app/app.css')).toBe('/app.css');
    expect(uri('/api/images')).toBe('/images');
    expect(uri('/api/images/abc')).toBe('/images/abc');
    expect(uri('/app')).toBe(301);
    expect(uri('/app/secret')).toBe(404);
    expect(uri('/apple')).toBe(404);
    expect(text(template['Outputs']['GeneratePageUrl'])).toContain('/app/');
  });

  it('sends CORS headers with images for the stage origins', () => {
    const cors = one('AWS::CloudFront::ResponseHeadersPolicy')['Properties']['ResponseHeadersPolicyConfig']['CorsConfig'];
    expect(cors['AccessControlAllowOrigins']).toEqual({ Items: ['https://app.example.com'] });
    expect(cors['AccessControlAllowMethods']).toEqual({ Items: ['GET', 'HEAD'] });
    const api = one('AWS::ApiGatewayV2::Api')['Properties'];
    expect(api['CorsConfiguration']['AllowOrigins']).toEqual(['https://app.example.com']);
  });

  it('serves /v1 from a function URL (no 30 s limit) with its own /v1-only entry, the API role and a bounded concurrency', () => {
    const v1 = fn('OpenaiCompatibleLambdaFunction');
    expect(v1).toMatchObject({
      Handler: 'functions/openai-compatible/handler.handler',
      Role: api()['Role'],
      Timeout: 300,
      ReservedConcurrentExecutions: 20,
    });
    expect(v1['Environment']['Variables']).toEqual(api()['Environment']['Variables']);
    // Auth is the API's own (API key or JWT, in code): the URL itself is public, and invokes nothing else.
    expect(one('AWS::Lambda::Url')['Properties']).toEqual({
      AuthType: 'NONE',
      // OpenAI's `stream: true` is sent as it is made.
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: { 'Fn::GetAtt': ['OpenaiCompatibleLambdaFunction', 'Arn'] },
    });
    expect(template['Outputs']).toHaveProperty('OpenaiCompatibleLambdaFunctionUrl');
  });

  it("gives the API's code and the worker each their own role with exactly what it does, no wildcards but X-Ray's", () => {
    expect(api()['Role']).toEqual({ 'Fn::GetAtt': ['ApiFunctionRole', 'Arn'] });
    expect(worker()['Role']).toEqual({ 'Fn::GetAtt': ['WorkerFunctionRole', 'Arn'] });
    expect(ofType('AWS::IAM::Role')).toHaveLength(2);
    for (const roleId of ['ApiFunctionRole', 'WorkerFunctionRole']) {
      for (const statement of statementsOf(roleId)) {
        expect(statement['Effect']).toBe('Allow');
        // X-Ray has no resource-level permissions: writing traces is allowed on "*", and only that.
        if (text(statement['Action']).includes('xray:')) {
          expect(statement).toEqual({ Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' });
          continue;
        }
        expect(text(statement['Resource'])).not.toMatch(/^"\*"$|^\["\*"\]$/);
        for (const action of [statement['Action']].flat() as string[]) expect(action).not.toMatch(/\*/);
      }
    }
    const apiStatements = statementsOf('ApiFunctionRole');
    expect(actionsOf(apiStatements)).toEqual([
      'cloudfront:CreateInvalidation',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    // /v1's b64_json reads back public images, admission the headers of input images: never records.
    const apiReads = text(withPrefix(apiStatements, 's3:GetObject')[0]?.['Resource']);
    expect(apiReads).not.toContain('records');
    expect(apiReads).toContain('/images/*');
    expect(apiReads).toContain('/uploads/*');
    // POST /uploads signs forms for uploads/ only: what those forms may write is what this role may.
    const uploadWrites = text(withPrefix(apiStatements, 's3:PutObject')[0]?.['Resource']);
    expect(uploadWrites).toContain('/uploads/*');
    expect(uploadWrites).not.toMatch(/images|records/);
    expect(text(withPrefix(apiStatements, 'lambda:')[0]?.['Resource'])).toContain(':function:durable-image-api-prod-runImageJob');
    expect(text(withPrefix(apiStatements, 'dynamodb:Query')[0]?.['Resource'])).toContain('/index/byOwner');
    expect(text(withPrefix(apiStatements, 'cloudfront:')[0]?.['Resource'])).toContain('"Ref":"ImageDistribution"');
    expect(text(withPrefix(apiStatements, 'ssm:'))).not.toContain('webhook-secret');
    // The API stores no image, so it never signs one: the signing key is the worker's alone.
    expect(text(withPrefix(apiStatements, 'ssm:'))).not.toContain('c2pa-signer');

    const workerStatements = statementsOf('WorkerFunctionRole');
    expect(actionsOf(workerStatements)).toEqual(
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:DeleteObject',
        's3:GetObject',
        // Twice: the images and records it writes, and the uploads it reads.
        's3:GetObject',
        's3:PutObject',
        'bedrock:InvokeModel',
        'sqs:SendMessage',
        'ssm:GetParameter',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    // Exactly the foundation models the stage lists, in Bedrock's region.
    expect(withPrefix(workerStatements, 'bedrock:')[0]?.['Resource']).toEqual([
      'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-core-v1:1',
    ]);
    const s3 = withPrefix(workerStatements, 's3:');
    expect(text(s3[0]?.['Resource'])).toMatch(/\/images\/\*.*\/records\/\*/);
    // Uploads are read (verified as inputs), never written or deleted by the worker.
    expect(s3.filter((statement) => text(statement['Resource']).includes('/uploads/*')).map((statement) => statement['Action'])).toEqual([
      ['s3:GetObject'],
    ]);
    const ssm = text(withPrefix(workerStatements, 'ssm:')[0]?.['Resource']);
    expect(ssm).toContain(':parameter/durable-image-api/prod/openai-api-key');
    expect(ssm).toContain(':parameter/durable-image-api/prod/webhook-secret');
    expect(ssm).toContain(':parameter/durable-image-api/prod/c2pa-signer');
    expect(ssm).toContain(':parameter/durable-image-api/prod/gemini-api-key');
    expect(ssm).toContain(':parameter/durable-image-api/prod/azure-openai-api-key');
    expect(text(withPrefix(workerStatements, 'sqs:')[0]?.['Resource'])).toContain('WorkerDeadLetterQueue');
    for (const statement of withPrefix([...apiStatements, ...workerStatements], 'dynamodb:')) {
      expect(text(statement['Resource'])).toContain('StateTable');
    }
  });

  it('keeps state in an on-demand table with TTL and an owner index that never holds prompts', () => {
    // Retained, as the bucket is: deleting or replacing the stack keeps the jobs, counters and idempotency records.
    expect(one('AWS::DynamoDB::Table')).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const tableProps = one('AWS::DynamoDB::Table')['Properties'];
    expect(tableProps['PointInTimeRecoverySpecification']).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(tableProps['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(tableProps['KeySchema']).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(tableProps['TimeToLiveSpecification']).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    const [index] = tableProps['GlobalSecondaryIndexes'] as Json[];
    expect(index?.['IndexName']).toBe('byOwner');
    expect(index?.['KeySchema']).toEqual([
      { AttributeName: 'owner', KeyType: 'HASH' },
      { AttributeName: 'listKey', KeyType: 'RANGE' },
    ]);
    expect(index?.['Projection']['ProjectionType']).toBe('INCLUDE');
    expect(index?.['Projection']['NonKeyAttributes']).not.toEqual(expect.arrayContaining(['prompt']));
    expect(index?.['Projection']['NonKeyAttributes']).not.toEqual(expect.arrayContaining(['providerPrompt']));
  });

  it("alarms on the 5xx rate, provider failures, daily spend and a settlement over its reservation into the stage's SNS topic", () => {
    expect(one('AWS::SNS::Topic')['Properties']['TopicName']).toBe('durable-image-api-prod-alarms');
    const alarms = ofType('AWS::CloudWatch::Alarm').map((alarm) => alarm['Properties'] as Json);
    expect(alarms).toHaveLength(5);
    // One image stored without Content Credentials is enough: the signing key is missing or broken.
    expect(alarms.find((alarm) => alarm['MetricName'] === 'ProvenanceUnsigned')).toMatchObject({ Threshold: 0, Period: 3600 });
    // One settlement above its reservation is enough: a price in lib/domain/pricing.ts is out of date.
    expect(alarms.find((alarm) => alarm['MetricName'] === 'SettledOverReservation')).toMatchObject({
      Namespace: 'DurableImageApi',
      Dimensions: [{ Name: 'service', Value: 'durable-image-api' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    for (const alarm of alarms) expect(alarm['AlarmActions']).toEqual([{ Ref: 'AlarmTopic' }]);
    const rate = alarms.find((alarm) => text(alarm['Metrics']).includes('"5xx"')) as Json;
    expect(text(rate['Metrics'])).toContain('100 * errors / requests');
    const provider = alarms.find((alarm) => alarm['MetricName'] === 'ProviderFailures') as Json;
    expect(provider).toMatchObject({ Namespace: 'DurableImageApi', Dimensions: [{ Name: 'service', Value: 'durable-image-api' }] });
    const spend = alarms.find((alarm) => alarm['MetricName'] === 'EstimatedCostUsd') as Json;
    expect(spend).toMatchObject({ Period: 86400, Statistic: 'Sum', Threshold: 160 });
    expect(spend['Threshold']).toBeLessThan(200); // below the prod global spend cap
  });

  it("has a dashboard of the stage beside its alarms, linked from the stack's outputs", () => {
    const dashboard = one('AWS::CloudWatch::Dashboard')['Properties'];
    expect(dashboard['DashboardName']).toBe('durable-image-api-prod');
    const [body, values] = dashboard['DashboardBody']['Fn::Sub'] as [string, Json];
    // What CloudFormation substitutes: the stack's own names and the stage's cap and alarm.
    const substituted = body
      .replace(/\$\{AWS::Region\}/g, 'us-east-1')
      .replace(/\$\{RunImageJobLambdaFunction\}/g, 'worker-fn')
      .replace(/\$\{WorkerDeadLetterQueue\.QueueName\}/g, 'dlq')
      .replace(/\$\{(\w+)\}/g, (_, name: string) => String(values[name]));
    const widgets = (JSON.parse(substituted) as { widgets: Json[] }).widgets;
    const metrics = text(widgets.map((widget) => widget['properties']['metrics']));
    for (const metric of ['ImagesStored', 'Failures', 'ProviderLatency', 'EstimatedCostUsd']) expect(metrics).toContain(metric);
    expect(metrics).toContain('"AWS/Lambda","Errors","FunctionName","worker-fn"');
    expect(metrics).toContain('"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","dlq"');
    const spend = widgets.find((widget) => text(widget).includes('EstimatedCostUsd')) as Json;
    expect(spend['properties']['annotations']['horizontal'].map((line: Json) => line['value'])).toEqual([200, 160]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub placeholder, not JavaScript's.
    expect(text(template['Outputs']['DashboardUrl'])).toContain('#dashboards:name=${OperationsDashboard}');
  });

  it('keeps one flood from exhausting the account: stage throttling and reserved concurrency for both functions', () => {
    expect(resources['HttpApiStage']['Properties']['DefaultRouteSettings']).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(api()['ReservedConcurrentExecutions']).toBe(50);
    expect(worker()['ReservedConcurrentExecutions']).toBe(10);
  });

  it('sets log retention, and deletes the log groups and the dead-letter queue with the stack explicitly', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups).toHaveLength(4); // the three functions and the HTTP API's access log
    for (const group of groups) {
      expect(group['Properties']['RetentionInDays']).toBe(90);
      expect(group).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    }
    expect(resources['WorkerDeadLetterQueue']).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  it('writes an access log of the HTTP API, one JSON line per request with no header or body', () => {
    const settings = resources['HttpApiStage']['Properties']['AccessLogSettings'] as Json;
    expect(settings['DestinationArn']).toEqual({ 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
    const format = JSON.parse(settings['Format'] as string) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status' });
    expect(settings['Format']).not.toMatch(/header|body|authorizer/i);
  });

  it('traces both functions with X-Ray (Lambda active tracing)', () => {
    expect(api()['TracingConfig']).toEqual({ Mode: 'Active' });
    expect(worker()['TracingConfig']).toEqual({ Mode: 'Active' });
  });

  // cfn-lint (AWS's CloudFormation linter, with its informational checks) on exactly what would be deployed. It is
  // in CI's image (.ci/run checks); elsewhere `pip install cfn-lint`, or the test is skipped with a note. Ignored:
  // W3005 ("dependency already enforced"): serverless writes DependsOn beside a Ref/GetAtt of the same resource;
  // W8003 ("always true or false"): the stage's parameters are filled in at package time, so HasCustomPublicBaseUrl
  // compares two constants in a packaged template, as it is meant to; I1022 (prefer Fn::Sub to Fn::Join): style
  // only, and most of those joins are serverless's own.
  const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!cfnLint) console.warn('cfn-lint is not installed: the packaged template is not linted (pip install cfn-lint)');
  (cfnLint || process.env['CI'] ? it : it.skip)(
    'passes cfn-lint with its informational checks, nothing ignored but three explained',
    () => {
      const lint = spawnSync(
        'cfn-lint',
        [
          '--include-checks',
          'I',
          '--ignore-checks',
          'W3005',
          'W8003',
          'I1022',
          '--',
          join(dir, 'cloudformation-template-update-stack.json'),
        ],
        { encoding: 'utf8' },
      );
      expect(`${lint.stdout}${lint.stderr}`).toBe('');
      expect(lint.status).toBe(0);
    },
    60_000,
  );

  it.each([
    // The API hands every generation to the worker: it ships no Bedrock or Gemini adapter (nor their SDKs).
    ['generateImage', 'functions/generate-image/', 'functions/run-image-job/', false],
    ['runImageJob', 'functions/run-image-job/', 'functions/generate-image/', true],
    ['openaiCompatible', 'functions/openai-compatible/', 'functions/generate-image/', false],
  ])('ships %s as ES modules with its chunks, at most 3 MB, that load on Node 24', async (name, own, other, generates) => {
    const zip = join(dir, `${name}.zip`);
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' })
      .split('\n')
      .filter((file) => file !== '');
    // The Content Credentials reader and signer (c2pa-rs in WebAssembly, inlined in their chunk) only where images are stored:
    // the budget is 3 MB besides that chunk, which is loaded by the first image only (docs/performance.md).
    const c2pa = listing.filter((file) => /chunks\/content-credentials-[^/]+\.js$/.test(file));
    expect(c2pa.length).toBe(generates ? 1 : 0);
    const c2paCompressed = c2pa.length
      ? Number(
          /^\s*\d+\s+\S+\s+(\d+)/m.exec(
            execFileSync('unzip', ['-v', zip, ...c2pa], { encoding: 'utf8' })
              .split('\n')
              .slice(3)
              .join('\n'),
          )?.[1],
        )
      : 0;
    expect(statSync(zip).size - c2paCompressed).toBeLessThanOrEqual(3 * 1024 * 1024);
    const entry = `${own}handler.js`;
    expect(listing).toContain(entry);
    // The source map ships for lib/stack-trace.ts; it is not parsed at start-up (no --enable-source-maps).
    expect(listing).toContain(`${entry}.map`);
    // Everything is bundled: the provider SDKs are chunks loaded by the first request that uses them.
    expect(listing.filter((file) => file.startsWith('node_modules/'))).toEqual([]);
    expect(listing.filter((file) => file.startsWith(other))).toEqual([]);
    // ES modules in .js files, marked so by functions/package.json for Lambda's runtime.
    expect(listing).toContain('functions/package.json');
    const chunks = listing.filter((file) => file.startsWith(`${own}chunks/`) && file.endsWith('.js'));
    expect(chunks.some((file) => /gemini-image-generator-/.test(file))).toBe(generates);
    expect(chunks.some((file) => /bedrock-image-generator-/.test(file))).toBe(generates);
    const bundled = execFileSync('unzip', ['-p', zip, ...chunks, entry], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(bundled.includes('@google/genai') || bundled.includes('generativelanguage.googleapis.com')).toBe(generates);
    expect(bundled.includes('AmazonBedrockFrontendService')).toBe(generates);
    execFileSync('unzip', ['-q', '-o', zip, '-d', join(dir, `unzipped-${name}`)]);
    const root = join(dir, `unzipped-${name}`);
    // A cold start reads the entry and what it imports statically, not what only some requests use: the openai SDK
    // (a chunk loaded by the first request that creates images) and the edit form's parser (the first edit).
    const coldStart = staticImportsOf(root, entry);
    for (const chunk of ['openai-adapters-', ...(generates ? [] : ['http-multipart-body-parser-'])]) {
      expect(chunks.some((file) => file.includes(`/chunks/${chunk}`))).toBe(true);
      expect([...coldStart].filter((file) => file.includes(`/chunks/${chunk}`))).toEqual([]);
    }
    const coldStartCode = [...coldStart].map((file) => readFileSync(join(root, file), 'utf8')).join('\n');
    expect(coldStartCode.includes('https://api.openai.com/v1')).toBe(false);
    // The functions that answer callers raise V8's WebAssembly tiering budget at init, before their first fetch
    // (lib/wasm-tiering.ts); the worker keeps V8's default.
    expect(coldStartCode.includes('--wasm-tiering-budget=')).toBe(!generates);
    // The handler loads, and so does every chunk it may load on first use.
    // With `awslambda` defined first, as Lambda's runtime does (the /v1 handler is streamified at load).
    const probe =
      `(await import(${JSON.stringify(join(ROOT, 'scripts/lambda-streaming.mjs'))})).installAwsLambda(); ` +
      `const m = await import(${JSON.stringify(join(root, entry))}); ` +
      `for (const chunk of ${JSON.stringify(chunks.map((file) => join(root, file)))}) await import(chunk); ` +
      `console.log(typeof m.handler)`;
    const env = {
      ...process.env,
      IMAGE_BUCKET: 'b',
      PUBLIC_BASE_URL: 'https://cdn.example.test',
      API_KEY_HASHES: `p:${'0'.repeat(64)}`,
      IMAGE_PROVIDER: 'offline',
      C2PA_SIGNER_PARAMETER: '/durable-image-api/prod/c2pa-signer',
    };
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { env, encoding: 'utf8', cwd: dir }).trim()).toBe(
      'function',
    );
  });
});

describe('deploy workflow', () => {
  const workflow = parse(readFileSync(`${ROOT}.github/workflows/deploy.yml`, 'utf8')) as Json;

  it('uses short-lived OIDC credentials, never stored keys', () => {
    expect(workflow['permissions']).toMatchObject({ 'id-token': 'write', contents: 'read' });
    expect(text(workflow)).toContain('aws-actions/configure-aws-credentials');
    expect(text(workflow)).toContain('role-to-assume');
    expect(text(workflow)).not.toMatch(/AWS_SECRET_ACCESS_KEY|aws-secret-access-key/);
  });

  it('tests with the same command as CI, then deploys one job per stage, prod after dev', () => {
    const jobs = workflow['jobs'] as Json;
    expect(text(jobs['test'])).toContain('bash .ci/run');
    expect(jobs['deploy-dev']['needs']).toEqual('test');
    expect(jobs['deploy-prod']['needs']).toEqual('deploy-dev');
    expect(text(jobs['deploy-dev']['steps'])).toContain('npx serverless deploy --stage dev');
    expect(text(jobs['deploy-prod']['steps'])).toContain('npx serverless deploy --stage prod');
    expect(jobs['deploy-prod']['environment']).toBe('prod');
  });

  it('proves each deployed stage with the smoke check, from the stack it just deployed, after the deploy step', () => {
    const jobs = workflow['jobs'] as Json;
    for (const stage of ['dev', 'prod']) {
      const steps = (jobs[`deploy-${stage}`]['steps'] as Json[]).map((step) => String(step['run'] ?? ''));
      const deploy = steps.findIndex((run) => run.includes(`serverless deploy --stage ${stage}`));
      const smoke = steps.findIndex((run) => run.includes('npm run smoke'));
      expect(deploy).toBeGreaterThanOrEqual(0);
      expect(smoke).toBeGreaterThan(deploy);
      // The URLs and the table come from the stack this job deployed.
      const after = steps.slice(deploy + 1, smoke + 1).join('\n');
      expect(after).toContain(`--stack-name durable-image-api-${stage}`);
      for (const output of ['HttpApiUrl', 'OpenaiCompatibleLambdaFunctionUrl', 'StateTableName']) expect(after).toContain(output);
    }
    // The outputs it reads are the template's.
    expect(template['Outputs']).toHaveProperty('StateTableName');
    expect(template['Outputs']).toHaveProperty('HttpApiUrl');
  });
});

/**
 * What a function posted to the Runtime API stand-in: its answers (a streamed one as the function URL reads it: the
 * prelude's status and headers, the body, and when each of its chunks arrived), its errors, an init error.
 */
interface Posted {
  responses: Json[];
  streamed: { statusCode: number; headers: Record<string, string>; body: string; chunkTimes: number[] }[];
  errors: { type: string | undefined; body: Json }[];
  initError?: { type: string | undefined; body: Json };
}

/**
 * Runs an unpacked zip as Lambda does: the runtime interface client (tests/support/lambda-runtime-client.mjs, which
 * follows aws-lambda-ric's rules) loads `handler` from the task root, then takes `events` one by one from a stand-in
 * of the Lambda Runtime API (`/2018-06-01/runtime/invocation/next`, `/response`, `/error`, `/init/error`).
 */
async function runUnderRuntimeApi(taskRoot: string, handler: string, events: unknown[], env: Record<string, string>): Promise<Posted> {
  const posted: Posted = { responses: [], streamed: [], errors: [] };
  let served = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    const chunkTimes: number[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
      chunkTimes.push(Date.now());
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = req.url ?? '';
    if (url.endsWith('/response') && req.headers['lambda-runtime-function-response-mode'] === 'streaming') {
      const { prelude, body } = splitPrelude(req.headers['content-type'], Buffer.concat(chunks));
      posted.streamed.push({ ...(prelude ?? { statusCode: 200, headers: {} }), body: body.toString('utf8'), chunkTimes });
      return void res.writeHead(202).end();
    }
    const type = req.headers['lambda-runtime-function-error-type'] as string | undefined;
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      const event = events[served];
      if (event === undefined) return void res.writeHead(404).end();
      served += 1;
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'lambda-runtime-aws-request-id': `request-${served}`,
          'lambda-runtime-deadline-ms': String(Date.now() + 30_000),
          'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:under-test',
        })
        .end(JSON.stringify(event));
      return;
    }
    if (url === '/2018-06-01/runtime/init/error') posted.initError = { type, body: JSON.parse(raw) as Json };
    else if (url.endsWith('/response')) posted.responses.push(JSON.parse(raw) as Json);
    else if (url.endsWith('/error')) posted.errors.push({ type, body: JSON.parse(raw) as Json });
    res.writeHead(202).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run([`${ROOT}tests/support/lambda-runtime-client.mjs`], {
      env: {
        PATH: process.env['PATH'] ?? '',
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: handler,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        AWS_LAMBDA_FUNCTION_NAME: 'under-test',
        AWS_REGION: 'us-east-1',
        ...env,
      },
      cwd: taskRoot,
      timeoutMs: 30_000,
    });
  } finally {
    server.close();
  }
  return posted;
}

describe("the packaged zips under Lambda's runtime contract", () => {
  const KEY = 'zip-test-key-0123456789';
  const env = {
    IMAGE_BUCKET: 'b',
    PUBLIC_BASE_URL: 'https://cdn.example.test',
    API_KEY_HASHES: `zip:${createHash('sha256').update(KEY).digest('hex')}`,
    IMAGE_PROVIDER: 'offline',
    C2PA_SIGNER: TEST_C2PA_SIGNER,
  };
  /** The zip `serverless package` wrote for a function, unpacked as Lambda unpacks it into its task root. */
  const unpacked = (name: string): string => {
    const root = join(dir, `task-root-${name}`);
    execFileSync('unzip', ['-q', '-o', join(dir, `${name}.zip`), '-d', root]);
    return root;
  };
  const handlerOf = (logicalId: string): string => fn(logicalId)['Handler'] as string;

  it('runs the API zip by its template handler for a buffered API event', async () => {
    const posted = await runUnderRuntimeApi(
      unpacked('generateImage'),
      handlerOf('GenerateImageLambdaFunction'),
      [
        httpEvent({ method: 'GET', path: '/openapi.json' }),
        httpEvent({ method: 'GET', path: '/usage' }),
        httpEvent({ method: 'GET', path: '/app.js' }),
        httpEvent({ method: 'GET', path: '/app.css' }),
      ],
      env,
    );
    expect(posted.initError).toBeUndefined();
    expect(posted.errors).toEqual([]);
    expect(posted.responses.map((response) => response['statusCode'])).toEqual([200, 401, 200, 200]);
    expect(JSON.parse(posted.responses[0]?.['body'] as string)).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
    // The page's script and style, as the files under the lint and the type check, byte for byte (esbuild's text
    // loader inlined them in the bundle).
    expect(posted.responses[2]?.['body']).toBe(readFileSync(join(ROOT, 'lib/http/page/app.js'), 'utf8'));
    expect(posted.responses[3]?.['body']).toBe(readFileSync(join(ROOT, 'lib/http/page/app.css'), 'utf8'));
  }, 60_000);

  it('runs the /v1 zip: /v1/models answers, and the rest of the API is 404 there', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const posted = await runUnderRuntimeApi(
      unpacked('openaiCompatible'),
      handlerOf('OpenaiCompatibleLambdaFunction'),
      [
        httpEvent({ method: 'GET', path: '/v1/models', headers: auth }),
        httpEvent({ method: 'POST', path: '/images', headers: auth, body: '{"prompt":"a fox"}' }),
        httpEvent({ method: 'GET', path: '/' }),
      ],
      env,
    );
    expect(posted.initError).toBeUndefined();
    // Its URL streams (InvokeMode RESPONSE_STREAM): a JSON answer goes through the stream too.
    expect(posted.streamed.map((response) => response.statusCode)).toEqual([200, 404, 404]);
    expect(JSON.parse(posted.streamed[0]?.body ?? '')).toMatchObject({ object: 'list' });
  }, 60_000);

  it("streams a /v1 generation from the zip under Lambda's response-streaming contract: partial images, then the image", async () => {
    const s3 = await startLocalS3('zip-images');
    try {
      const posted = await runUnderRuntimeApi(
        unpacked('openaiCompatible'),
        handlerOf('OpenaiCompatibleLambdaFunction'),
        [
          httpEvent({
            method: 'POST',
            path: '/v1/images/generations',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ prompt: 'a red fox', stream: true, partial_images: 2 }),
          }),
          httpEvent({ method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${KEY}` } }),
        ],
        {
          ...env,
          IMAGE_BUCKET: s3.bucket,
          S3_ENDPOINT: s3.endpoint,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          // Partial images at 0.6 s and 1.2 s, the image at 1.8 s.
          OFFLINE_DELAY_MS: '1800',
        },
      );
      expect(posted.initError).toBeUndefined();
      expect(posted.errors).toEqual([]);
      // The function URL streams: every answer goes through the stream, a JSON one too.
      expect(posted.responses).toEqual([]);
      const [stream, models] = posted.streamed;
      expect(stream).toMatchObject({ statusCode: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
      const events = sseEvents(stream?.body ?? '').map(({ data }) => data ?? {});
      expect(events.map((event) => [event['type'], event['partial_image_index']])).toEqual([
        ['image_generation.partial_image', 0],
        ['image_generation.partial_image', 1],
        ['image_generation.completed', undefined],
      ]);
      for (const event of events) {
        const stored = await s3.get(new URL(event['url'] as string).pathname.slice(1));
        expect(stored.body.equals(Buffer.from(event['b64_json'] as string, 'base64'))).toBe(true);
      }
      // Sent as it was made: the partial images' bytes reached the Runtime API well before the image's.
      const times = stream?.chunkTimes ?? [];
      expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThan(500);
      expect(models).toMatchObject({ statusCode: 200 });
      expect(JSON.parse(models?.body ?? '{}')).toMatchObject({ object: 'list' });
    } finally {
      await s3.stop();
    }
  }, 60_000);

  it('runs the worker zip for worker events', async () => {
    const posted = await runUnderRuntimeApi(
      unpacked('runImageJob'),
      handlerOf('RunImageJobLambdaFunction'),
      [{ id: 'AAAAAAAAAAAAAAAAAAAAAA' }, { id: '../not-an-id' }],
      env,
    );
    expect(posted.initError).toBeUndefined();
    // Without a state table there is no job to run: the worker says so, as it does on AWS.
    expect(posted.responses).toEqual([{ ignored: 'no state table' }, { ignored: 'invalid event' }]);
  }, 60_000);

  it("signs and reads Content Credentials with the worker zip's own chunk (c2pa-rs inlined), checked by the CAI's reader", async () => {
    const root = unpacked('runImageJob');
    const chunks = join(root, 'functions/run-image-job/chunks');
    const chunk = readdirSync(chunks).find((file) => /^content-credentials-.*\.js$/.test(file));
    expect(chunk).toBeDefined();
    const out = join(dir, 'zip-signed.png');
    const probe = `
      import { readFileSync, writeFileSync } from 'node:fs';
      const { C2paProvenanceReader, C2paSigner } = await import(${JSON.stringify(join(chunks, chunk as string))});
      const signer = new C2paSigner({ credentials: async () => process.env.C2PA_SIGNER, generator: { name: 'zip', version: '1' } });
      const signed = await signer.sign(readFileSync(${JSON.stringify(join(ROOT, 'tests/fixtures/small.png'))}), 'image/png',
        { model: 'gpt-image-2', generatedAt: new Date(), inputs: [] });
      writeFileSync(${JSON.stringify(out)}, signed);
      process.stdout.write(JSON.stringify(await new C2paProvenanceReader().read(signed, 'image/png')));`;
    const read = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], C2PA_SIGNER: TEST_C2PA_SIGNER },
    });
    expect(JSON.parse(read)).toMatchObject({ valid: true, signer: 'C2PA Test Signing Cert', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    const report = await readC2pa(readFileSync(out), 'image/png');
    expect(report.validationState).toBe('Valid');
  }, 60_000);

  it('fails at init when the handler string is wrong, or a bundled file is broken', async () => {
    const root = unpacked('generateImage');
    const handler = handlerOf('GenerateImageLambdaFunction');
    const event = [httpEvent({ method: 'GET', path: '/openapi.json' })];
    const wrongExport = await runUnderRuntimeApi(root, handler.replace(/\.handler$/, '.handlr'), event, env);
    expect(wrongExport.initError?.type).toBe('Runtime.HandlerNotFound');
    const wrongModule = await runUnderRuntimeApi(root, handler.replace('generate-image', 'generate-images'), event, env);
    expect(wrongModule.initError?.type).toBe('Runtime.ImportModuleError');
    // A bundle cut short, as a broken build or copy would leave it.
    const entry = join(root, `${handler.slice(0, handler.lastIndexOf('.'))}.js`);
    writeFileSync(entry, readFileSync(entry, 'utf8').slice(0, 2_000));
    const broken = await runUnderRuntimeApi(root, handler, event, env);
    expect(broken.initError?.type).toBe('Runtime.ImportModuleError');
    expect(broken.responses).toEqual([]);
  }, 60_000);
});
