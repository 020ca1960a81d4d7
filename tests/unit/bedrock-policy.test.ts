import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';

/** scripts/bedrock-policy.cjs: the worker's Bedrock statement that `serverless package` resolves from the params. */
const policyFor = createRequire(import.meta.url)('../../scripts/bedrock-policy.cjs') as (context: {
  resolveVariable: (name: string) => Promise<string>;
}) => Promise<Record<string, unknown>>;

const resolving = (params: Record<string, string>) => ({
  resolveVariable: async (name: string) => params[name.replace(/^param:/, '')] ?? '',
});

describe("the worker's Bedrock permission", () => {
  it("allows InvokeModel on exactly the listed bedrock/ models, in Bedrock's region", async () => {
    const statement = await policyFor(
      resolving({
        imageModels: 'gpt-image-2, bedrock/stability.stable-image-ultra-v1:1,bedrock/stability.sd3-5-large-v1:0,google/gemini-3-pro-image',
        bedrockRegion: 'us-west-2',
      }),
    );
    expect(statement).toEqual({
      Effect: 'Allow',
      Action: ['bedrock:InvokeModel'],
      Resource: [
        'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-ultra-v1:1',
        'arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0',
      ],
    });
  });

  it('denies it outright when the stage lists no Bedrock model', async () => {
    expect(await policyFor(resolving({ imageModels: 'gpt-image-2', bedrockRegion: 'us-west-2' }))).toEqual({
      Effect: 'Deny',
      Action: ['bedrock:InvokeModel'],
      Resource: '*',
    });
  });
});
