import type { TypedArrayOf } from './types';

/**
 * A least-recently-used cache of decoded tiles bounded by their total byte size, shared by the readers of a
 * process. A tile larger than the whole budget is not cached.
 */
export class TileCache {
  private readonly entries = new Map<string, TypedArrayOf>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get(key: string): TypedArrayOf | undefined {
    const tile = this.entries.get(key);
    if (tile === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-insertion moves the key to the most recently used end of the Map's order.
    this.entries.delete(key);
    this.entries.set(key, tile);
    return tile;
  }

  set(key: string, tile: TypedArrayOf): void {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.byteLength;
    }
    if (tile.byteLength > this.maxBytes) return;
    this.entries.set(key, tile);
    this.bytes += tile.byteLength;
    this.evict();
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private evict(): void {
    for (const [key, tile] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= tile.byteLength;
    }
  }
}

let sharedCache: TileCache | undefined;

/** The process-wide tile cache (256 MiB) used when a caller passes none. */
export function defaultTileCache(): TileCache {
  sharedCache ??= new TileCache(256 * 1024 * 1024);
  return sharedCache;
}
