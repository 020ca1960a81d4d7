/**
 * What each image model family accepts. Model names come from configuration; this table only says which
 * parameters a family understands, so a request is refused here (400, free) instead of by the provider (billed
 * latency, and a provider error we would have to translate).
 */

export type ModelFamily = 'gpt-image' | 'dall-e-3' | 'dall-e-2';
export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface FamilyCapabilities {
  family: ModelFamily;
  sizes: readonly string[];
  defaultSize: string;
  qualities: readonly string[];
  formats: readonly OutputFormat[];
  /** Longest prompt (characters) the provider accepts for this family. */
  maxPromptChars: number;
  /** GPT image models always answer in base64 and reject `response_format`; dall-e needs it set. */
  sendsResponseFormat: boolean;
}

const FAMILIES: Readonly<Record<ModelFamily, FamilyCapabilities>> = Object.freeze({
  'gpt-image': {
    family: 'gpt-image',
    sizes: ['auto', '1024x1024', '1536x1024', '1024x1536'],
    defaultSize: '1024x1024',
    qualities: ['auto', 'low', 'medium', 'high'],
    formats: ['png', 'jpeg', 'webp'],
    maxPromptChars: 32_000,
    sendsResponseFormat: false,
  },
  'dall-e-3': {
    family: 'dall-e-3',
    sizes: ['1024x1024', '1792x1024', '1024x1792'],
    defaultSize: '1024x1024',
    qualities: ['standard', 'hd'],
    formats: ['png'],
    maxPromptChars: 4_000,
    sendsResponseFormat: true,
  },
  'dall-e-2': {
    family: 'dall-e-2',
    sizes: ['256x256', '512x512', '1024x1024'],
    defaultSize: '1024x1024',
    qualities: [],
    formats: ['png'],
    maxPromptChars: 1_000,
    sendsResponseFormat: true,
  },
});

/** The family of a model name, or undefined for a model this service does not know how to call. */
export function familyOf(model: string): FamilyCapabilities | undefined {
  if (/^(gpt-image|chatgpt-image)/.test(model)) return FAMILIES['gpt-image'];
  if (/^dall-e-3/.test(model)) return FAMILIES['dall-e-3'];
  if (/^dall-e-2/.test(model)) return FAMILIES['dall-e-2'];
  return undefined;
}

/** Parses `1536x1024` (or `auto`, which resolves to the family default) into pixels. */
export function pixelSize(size: string, family: FamilyCapabilities): { width: number; height: number } {
  const resolved = size === 'auto' ? family.defaultSize : size;
  const [width, height] = resolved.split('x').map(Number);
  return { width: width ?? 1024, height: height ?? 1024 };
}
