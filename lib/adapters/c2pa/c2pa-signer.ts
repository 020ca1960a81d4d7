import { WasmBuilder } from '@contentauth/c2pa-wasm';
import { TRAINED_ALGORITHMIC_MEDIA } from '../../domain/image-job.js';
import type { ProvenanceSigner, ServiceClaim } from '../../ports.js';
import { BytesBlob, initC2pa, provideFileReaderSync } from './c2pa-wasm.js';
import { parseSigningCredentials, reserveSizeFor, signCose, type CoseCredentials } from './cose-sign1.js';

export interface C2paSignerOptions {
  /** The PEM text of the key and its certificate chain (C2PA_SIGNER, or the SSM SecureString C2PA_SIGNER_PARAMETER). */
  credentials: () => Promise<string>;
  /** `claim_generator_info` of the manifest: this service and its version. */
  generator: { name: string; version: string };
}

/**
 * This service's Content Credentials, written by c2pa-rs's Builder (WebAssembly) into the image without re-encoding
 * its pixels: a C2PA manifest whose `c2pa.created` action states IPTC's `trainedAlgorithmicMedia`, the model as the
 * software agent and the time, with an edit's input images as `inputTo` ingredients, signed with the deployment's
 * key and certificate. No RFC 3161 time stamp: a time-stamp authority is one more network call per image, and the
 * signature is then valid while the certificate is (docs/deploy.md).
 */
export class C2paSigner implements ProvenanceSigner {
  /** The last PEM text read and its parsed key and chain: a rotated parameter (read anew after 15 min) is parsed once. */
  private parsed: { pem: string; credentials: CoseCredentials } | undefined;

  constructor(private readonly options: C2paSignerOptions) {}

  private async credentials(): Promise<CoseCredentials> {
    const pem = await this.options.credentials();
    if (this.parsed?.pem !== pem) this.parsed = { pem, credentials: parseSigningCredentials(pem) };
    return this.parsed.credentials;
  }

  async sign(bytes: Buffer, contentType: string, claim: ServiceClaim): Promise<Buffer> {
    const credentials = await this.credentials();
    initC2pa();
    provideFileReaderSync();
    const ingredients = claim.inputs.map((input, index) => ({
      title: `input-${index + 1}`,
      format: input.contentType,
      relationship: 'inputTo',
      instance_id: `xmp:iid:input-${index + 1}`,
    }));
    const builder = WasmBuilder.fromJson(
      JSON.stringify({
        claim_generator_info: [this.options.generator],
        format: contentType,
        title: `image.${contentType.split('/')[1] ?? 'bin'}`,
        assertions: [
          {
            label: 'c2pa.actions.v2',
            data: {
              actions: [
                {
                  action: 'c2pa.created',
                  digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
                  softwareAgent: { name: claim.model },
                  when: claim.generatedAt.toISOString(),
                  ...(ingredients.length > 0 ? { parameters: { ingredientIds: ingredients.map((i) => i.instance_id) } } : {}),
                },
              ],
            },
          },
        ],
      }),
    );
    try {
      for (const [index, input] of claim.inputs.entries()) {
        await builder.addIngredientFromBlob(JSON.stringify(ingredients[index]), input.contentType, new BytesBlob(input.bytes).asBlob());
      }
      const size = reserveSizeFor(credentials);
      const signed = await builder.sign(
        { alg: credentials.alg, reserveSize: size, sign: async (payload: Uint8Array) => signCose(credentials, payload, size) },
        [],
        contentType,
        new BytesBlob(bytes).asBlob(),
      );
      return Buffer.from(signed.buffer, signed.byteOffset, signed.length);
    } finally {
      builder.free();
    }
  }
}
