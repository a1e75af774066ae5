import type { ProcessDescription, ProcessPlugin, RunContext } from '../../src/ogc/process';
import description from './description.json';

const TICK_MS = 100;

/** Waits `seconds`, reporting progress, and stops at once when the job is dismissed. */
async function pause(seconds: number, ctx: RunContext): Promise<void> {
  const total = Math.round(seconds * 1000);
  for (let waited = 0; waited < total; waited += TICK_MS) {
    ctx.signal.throwIfAborted();
    ctx.progress(Math.floor((waited / total) * 100), `paused ${(waited / 1000).toFixed(1)} of ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(TICK_MS, total - waited)));
  }
  ctx.signal.throwIfAborted();
}

const echo: ProcessPlugin = {
  description: description as ProcessDescription,
  async run(inputs, ctx) {
    const seconds = Number(inputs.pause ?? 0);
    if (seconds > 0) await pause(seconds, ctx);
    ctx.progress(100, 'done');
    return { echoInput: inputs.echoInput };
  },
};

export default echo;
