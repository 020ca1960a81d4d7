// biome-ignore lint/suspicious/noExplicitAny: event bodies are checked field by field
type Json = Record<string, any>;

/** A server-sent event as the tests read it: its `event:` name and its `data:` JSON (null when it carries none). */
export interface SseEvent {
  event: string | undefined;
  data: Json | null;
}

/**
 * The events of a `text/event-stream` body, in order. A frame of comment lines only (`: keep-alive`) carries no event
 * and is skipped, as SSE clients skip it.
 */
export function sseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((frame) => frame.trim() !== '' && !frame.startsWith(':'))
    .map((frame) => {
      const lines = frame.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
      const data = lines.find((line) => line.startsWith('data: '))?.slice('data: '.length);
      return { event, data: data === undefined ? null : (JSON.parse(data) as Json) };
    });
}
