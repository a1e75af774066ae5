import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { ProcessPlugin } from './process';

export const PROCESSES_DIR = path.resolve(__dirname, '../../processes');

/** The processes this server offers: every folder under `processes/` with an `index.ts` (or compiled `index.js`). */
export class ProcessRegistry {
  private readonly byId = new Map<string, ProcessPlugin>();

  constructor(plugins: ProcessPlugin[], readonly dir: string = PROCESSES_DIR) {
    for (const plugin of plugins) this.byId.set(plugin.description.id, plugin);
  }

  static load(folder: string = PROCESSES_DIR): ProcessRegistry {
    const dir = path.resolve(folder);
    const plugins = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && moduleFile(path.join(dir, entry.name)))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => loadPlugin(path.join(dir, entry.name)));
    return new ProcessRegistry(plugins, dir);
  }

  get(id: string): ProcessPlugin | undefined {
    return this.byId.get(id);
  }

  list(): ProcessPlugin[] {
    return [...this.byId.values()];
  }

  /** The module file of a process, for loading it elsewhere (a worker thread, a worker process). */
  moduleOf(id: string): string {
    const file = moduleFile(path.join(this.dir, id));
    if (!file) throw new Error(`no module for process ${id}`);
    return file;
  }
}

function moduleFile(folder: string): string | undefined {
  return ['index.ts', 'index.js'].map((name) => path.join(folder, name)).find((file) => existsSync(file));
}

export function loadPlugin(folder: string): ProcessPlugin {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const loaded = require(moduleFile(folder) ?? folder);
  const plugin: ProcessPlugin = loaded.default ?? loaded;
  if (!plugin?.description?.id || typeof plugin.run !== 'function') {
    throw new Error(`${folder} does not export a process plug-in (description + run)`);
  }
  return plugin;
}
