import path from 'node:path';

const BY_EXTENSION: Record<string, string> = {
  '.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.tiff': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.json': 'application/json',
  '.geojson': 'application/geo+json',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.xml': 'application/xml',
  '.zip': 'application/zip',
};

export function mediaTypeOfPath(file: string): string {
  return BY_EXTENSION[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}
