// Jest's node environment, with the service's JSON log lines held back: a test run prints its results, and the
// service logs only of a test that failed (after its name). LOG_PASSTHROUGH=1 prints every line as it comes.
import { TestEnvironment } from 'jest-environment-node';

/** A line the service's logger (Powertools, EMF metrics) writes: one JSON object per line. */
const isServiceLog = (text) => text.startsWith('{');

export default class QuietEnvironment extends TestEnvironment {
  held = [];
  restore = undefined;

  async setup() {
    await super.setup();
    if (process.env.LOG_PASSTHROUGH) return;
    // Powertools writes to process.stdout (and warnings and errors to process.stderr) through a Console of its own,
    // past Jest's console capture.
    const hold = (stream) => {
      const write = stream.write;
      stream.write = (chunk, ...rest) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        if (!isServiceLog(text)) return write.call(stream, chunk, ...rest);
        this.held.push(text);
        const callback = rest.find((argument) => typeof argument === 'function');
        if (callback) callback();
        return true;
      };
      return () => {
        stream.write = write;
      };
    };
    const undo = [hold(process.stdout), hold(process.stderr)];
    this.restore = () => {
      for (const restore of undo) restore();
    };
  }

  async teardown() {
    this.restore?.();
    await super.teardown();
  }

  async handleTestEvent(event) {
    if (event.name === 'test_start') this.held = [];
    if (event.name === 'test_done') {
      if (event.test.errors.length > 0 && this.held.length > 0) {
        process.stderr.write(`\n--- service log of the failed test "${event.test.name}" ---\n${this.held.join('')}--- end ---\n`);
      }
      this.held = [];
    }
  }
}
