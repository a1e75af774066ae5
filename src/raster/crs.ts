import proj4 from 'proj4';

/** proj4 definitions for the CRSs the engine knows: WGS84, Web Mercator and every WGS84 UTM zone. */
function utmDefinition(epsg: number): string | undefined {
  const north = epsg >= 32601 && epsg <= 32660;
  const south = epsg >= 32701 && epsg <= 32760;
  if (!north && !south) return undefined;
  const zone = epsg % 100;
  return `+proj=utm +zone=${zone}${south ? ' +south' : ''} +datum=WGS84 +units=m +no_defs`;
}

const KNOWN: Record<number, string> = {
  4326: '+proj=longlat +datum=WGS84 +no_defs',
  3857: '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs',
};

/** The proj4 name of an EPSG code, defining it on first use; throws for a CRS proj4 cannot be given here. */
export function crsName(epsg: number): string {
  const name = `EPSG:${epsg}`;
  if (!proj4.defs(name)) {
    const definition = KNOWN[epsg] ?? utmDefinition(epsg);
    if (!definition) throw new Error(`unsupported CRS EPSG:${epsg}`);
    proj4.defs(name, definition);
  }
  return name;
}

export function isSupportedCrs(epsg: number): boolean {
  try {
    crsName(epsg);
    return true;
  } catch {
    return false;
  }
}

/** A forward transformer between two EPSG codes (x, y order; longitude first for 4326). */
export function transformer(fromEpsg: number, toEpsg: number): (x: number, y: number) => [number, number] {
  if (fromEpsg === toEpsg) return (x, y) => [x, y];
  const converter = proj4(crsName(fromEpsg), crsName(toEpsg));
  return (x, y) => converter.forward([x, y]) as [number, number];
}

/** EPSG code of the WGS84 UTM zone containing a point (plain 6° zones; no Norway/Svalbard exceptions). */
export function utmEpsgFor(lon: number, lat: number): number {
  const zone = Math.min(60, Math.max(1, Math.floor((lon + 180) / 6) + 1));
  return (lat >= 0 ? 32600 : 32700) + zone;
}
