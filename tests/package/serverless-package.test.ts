import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ROOT, SERVERLESS_BIN, run } from '../support/processes.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation JSON is untyped

let dir: string;
let template: Json;
let resources: Json;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dia-package-'));
  // No AWS credentials at all: packaging must not need them.
  const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none-configured' };
  const result = await run([SERVERLESS_BIN, 'package', '--stage', 'prod', '--package', dir], { env, timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`serverless package failed:\n${result.output}`);
  template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Json;
  resources = template['Resources'] as Json;
}, 150_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ofType = (type: string): Json[] => Object.values(resources).filter((resource) => resource['Type'] === type);
const one = (type: string): Json => {
  const found = ofType(type);
  expect(found).toHaveLength(1);
  return found[0] as Json;
};
const text = (value: unknown): string => JSON.stringify(value);

describe('serverless package (stage prod)', () => {
  it('deploys the function on nodejs24.x arm64 with an explicit memory size and a timeout inside the gateway limit', () => {
    const fn = one('AWS::Lambda::Function')['Properties'];
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: 512 });
    expect(fn['Timeout']).toBeLessThanOrEqual(29);
    expect(fn['Handler']).toBe('functions/generate-image/handler.handler');
  });

  it('wires the environment to the stack: bucket, CloudFront URL, per-stage SSM names, no secrets inline', () => {
    const env = one('AWS::Lambda::Function')['Properties']['Environment']['Variables'] as Json;
    expect(env['IMAGE_BUCKET']).toEqual({ Ref: 'ImageBucket' });
    expect(text(env['PUBLIC_BASE_URL'])).toContain('"ImageDistribution","DomainName"');
    expect(env['IMAGE_PROVIDER']).toBe('openai');
    expect(env['OPENAI_API_KEY_PARAMETER']).toBe('/durable-image-api/prod/openai-api-key');
    expect(env['API_KEY_HASHES']).toBe('{{resolve:ssm:/durable-image-api/prod/api-key-hashes}}');
    expect(env['STATE_TABLE']).toEqual({ Ref: 'StateTable' });
    expect(env['MODERATION']).toBe('fail-closed');
    expect(env['GLOBAL_DAILY_SPEND_LIMIT_USD']).toBe('200');
    expect(env).not.toHaveProperty('OPENAI_API_KEY');
    expect(env).not.toHaveProperty('DYNAMODB_ENDPOINT');
    expect(env).not.toHaveProperty('S3_ENDPOINT');
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
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
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
    const code = one('AWS::CloudFront::Function')['Properties']['FunctionCode'] as string;
    const handler = new Function(`${code}; return handler;`)() as (event: Json) => Json;
    expect(handler({ request: { uri: '/images/2026/11/25/a.png' } })).toEqual({ uri: '/images/2026/11/25/a.png' });
    expect(handler({ request: { uri: '/records/2026/11/25/a.json' } })).toMatchObject({ statusCode: 404 });
    expect(handler({ request: { uri: '/' } })).toMatchObject({ statusCode: 404 });
  });

  it('sends CORS headers with images for the stage origins', () => {
    const cors = one('AWS::CloudFront::ResponseHeadersPolicy')['Properties']['ResponseHeadersPolicyConfig']['CorsConfig'];
    expect(cors['AccessControlAllowOrigins']).toEqual({ Items: ['https://app.example.com'] });
    expect(cors['AccessControlAllowMethods']).toEqual({ Items: ['GET', 'HEAD'] });
    const api = one('AWS::ApiGatewayV2::Api')['Properties'];
    expect(api['CorsConfiguration']['AllowOrigins']).toEqual(['https://app.example.com']);
  });

  it('grants the function least privilege: writes under the two prefixes, its one SSM parameter, no wildcards', () => {
    const role = one('AWS::IAM::Role');
    const statements = role['Properties']['Policies'].flatMap((policy: Json) => policy['PolicyDocument']['Statement']) as Json[];
    for (const statement of statements) {
      expect(statement['Effect']).toBe('Allow');
      const resourcesText = text(statement['Resource']);
      expect(resourcesText).not.toMatch(/^"\*"$|^\["\*"\]$/);
      for (const action of [statement['Action']].flat() as string[]) expect(action).not.toMatch(/\*/);
    }
    const s3 = statements.filter((s) => [s['Action']].flat().some((a: string) => a.startsWith('s3:')));
    expect(s3).toHaveLength(1);
    expect((s3[0] as Json)['Action']).toEqual(['s3:PutObject', 's3:DeleteObject']);
    expect(text((s3[0] as Json)['Resource'])).toMatch(/\/images\/\*.*\/records\/\*/);
    const ssm = statements.filter((s) => [s['Action']].flat().some((a: string) => a.startsWith('ssm:')));
    expect(ssm).toHaveLength(1);
    expect((ssm[0] as Json)['Action']).toEqual(['ssm:GetParameter']);
    expect(text((ssm[0] as Json)['Resource'])).toContain(':parameter/durable-image-api/prod/openai-api-key');
  });

  it('keeps quota and idempotency state in an on-demand table whose items expire by TTL', () => {
    const tableProps = one('AWS::DynamoDB::Table')['Properties'];
    expect(tableProps['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(tableProps['KeySchema']).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(tableProps['TimeToLiveSpecification']).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    const role = one('AWS::IAM::Role');
    const statements = role['Properties']['Policies'].flatMap((policy: Json) => policy['PolicyDocument']['Statement']) as Json[];
    const dynamo = statements.filter((s) => [s['Action']].flat().some((a: string) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect((dynamo[0] as Json)['Action']).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']);
    expect((dynamo[0] as Json)['Resource']).toEqual([{ 'Fn::GetAtt': ['StateTable', 'Arn'] }]);
  });

  it('sets log retention', () => {
    expect(one('AWS::Logs::LogGroup')['Properties']['RetentionInDays']).toBe(90);
  });

  it('ships a bundle that loads on Node 24 and exports handler', () => {
    const zip = join(dir, 'generateImage.zip');
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('functions/generate-image/handler.cjs');
    expect(listing.some((name) => name.includes('node_modules'))).toBe(false);
    execFileSync('unzip', ['-q', '-o', zip, '-d', join(dir, 'unzipped')]);
    const probe = `const m = require(${JSON.stringify(join(dir, 'unzipped/functions/generate-image/handler.cjs'))}); console.log(typeof m.handler)`;
    const env = {
      ...process.env,
      IMAGE_BUCKET: 'b',
      PUBLIC_BASE_URL: 'https://cdn.example.test',
      API_KEY_HASHES: `p:${'0'.repeat(64)}`,
      IMAGE_PROVIDER: 'offline',
    };
    expect(execFileSync(process.execPath, ['-e', probe], { env, encoding: 'utf8' }).trim()).toBe('function');
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
});
