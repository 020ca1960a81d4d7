import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Maps a minified stack trace back to the TypeScript sources, on demand. `--enable-source-maps` parses the whole
 * map at every cold start (its cost is in docs/performance.md) to serve the rare unexpected error;
 * here the map beside each bundle or chunk (`<file>.js.map`, shipped in the zip) is read only when such an error is
 * logged, once per file and container, with Node's own SourceMap class.
 */
const maps = new Map<string, SourceMap | null>();

function mapFor(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let map: SourceMap | null = null;
    try {
      const path = `${file}.map`;
      if (existsSync(path)) map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as never);
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return maps.get(file) ?? undefined;
}

/**
 * A frame's bundle position. The functions ship as ES modules, whose frames name a file URL
 * (`file:///var/task/functions/generate-image/handler.js:1:4242`, chunks likewise); a path (`/var/task/x.cjs:1:9`)
 * is read too.
 */
const FRAME = /\(?((?:file:\/\/)?\/[^():]+\.[cm]?js):(\d+):(\d+)\)?$/;

const pathOf = (location: string): string => (location.startsWith('file://') ? fileURLToPath(location) : location);

/** The same frames with bundle positions replaced by source positions where a map is available. */
export function mapStackFrames(frames: string[]): string[] {
  return frames.map((frame) => {
    const match = FRAME.exec(frame);
    if (!match) return frame;
    const [, file, line, column] = match as unknown as [string, string, string, string];
    const entry = mapFor(pathOf(file))?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || entry.originalSource === undefined) return frame;
    const source = entry.originalSource.replace(/^.*?((?:lib|functions|node_modules)\/)/, '$1');
    const name = 'name' in entry && entry.name ? ` ${entry.name}` : '';
    return `${frame.replace(FRAME, '').trimEnd()}${name} (${source}:${entry.originalLine + 1}:${entry.originalColumn + 1})`;
  });
}
