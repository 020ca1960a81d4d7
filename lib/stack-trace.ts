import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

/**
 * Maps a minified stack trace back to the TypeScript sources, on demand. `--enable-source-maps` parses the whole
 * map at every cold start (its cost is in docs/performance.md) to serve the rare unexpected error;
 * here the map beside the bundle (`<bundle>.cjs.map`, shipped in the zip) is read only when such an error is
 * logged, once per container, with Node's own SourceMap class.
 */
const maps = new Map<string, SourceMap | null>();

function mapFor(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let map: SourceMap | null = null;
    try {
      const path = `${file}.map`;
      if (file.endsWith('.cjs') && existsSync(path)) map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as never);
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return maps.get(file) ?? undefined;
}

const FRAME = /\(?(\/[^():]+\.cjs):(\d+):(\d+)\)?$/;

/** The same frames with bundle positions replaced by source positions where a map is available. */
export function mapStackFrames(frames: string[]): string[] {
  return frames.map((frame) => {
    const match = FRAME.exec(frame);
    if (!match) return frame;
    const [, file, line, column] = match as unknown as [string, string, string, string];
    const entry = mapFor(file)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || entry.originalSource === undefined) return frame;
    const source = entry.originalSource.replace(/^.*?((?:lib|functions|node_modules)\/)/, '$1');
    const name = 'name' in entry && entry.name ? ` ${entry.name}` : '';
    return `${frame.replace(FRAME, '').trimEnd()}${name} (${source}:${entry.originalLine + 1}:${entry.originalColumn + 1})`;
  });
}
