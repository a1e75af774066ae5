/** GeoTIFF georeferencing tags: affine transform and GeoKeys for an EPSG code. */
import proj4 from 'proj4';
import { isSupportedCrs, crsName } from '../crs';
import type { GeoTransform } from '../types';
import { FieldType, type TagEntry } from './ifd-serializer';
import { Tag } from './tags';


const GeoKey = { GTModelType: 1024, GTRasterType: 1025, GeographicType: 2048, ProjectedCSType: 3072 } as const;
const ModelType = { Projected: 1, Geographic: 2 } as const;
const RASTER_PIXEL_IS_AREA = 1;

/** Geographic 2D CRS codes live in EPSG's 4000–4999 block; proj4's definition decides when it has one. */
export function isGeographicEpsg(epsg: number): boolean {
  if (isSupportedCrs(epsg)) return (proj4.defs(crsName(epsg)) as { projName?: string }).projName === 'longlat';
  return epsg >= 4000 && epsg < 5000;
}

export function geoKeyDirectory(epsg: number): TagEntry {
  const geographic = isGeographicEpsg(epsg);
  const keys: [number, number][] = [
    [GeoKey.GTModelType, geographic ? ModelType.Geographic : ModelType.Projected],
    [GeoKey.GTRasterType, RASTER_PIXEL_IS_AREA],
    [geographic ? GeoKey.GeographicType : GeoKey.ProjectedCSType, epsg],
  ];
  // Header: directory version 1, revision 1.0, key count; then (key, location 0 = inline, count 1, value).
  const values = [1, 1, 0, keys.length, ...keys.flatMap(([key, value]) => [key, 0, 1, value])];
  return { tag: Tag.GeoKeyDirectory, type: FieldType.Short, values };
}

/** ModelPixelScale + ModelTiepoint for north-up transforms, ModelTransformation otherwise. */
export function transformTags([originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight]: GeoTransform): TagEntry[] {
  if (rowRotation === 0 && columnRotation === 0 && pixelHeight < 0) {
    return [
      { tag: Tag.ModelPixelScale, type: FieldType.Double, values: [pixelWidth, -pixelHeight, 0] },
      { tag: Tag.ModelTiepoint, type: FieldType.Double, values: [0, 0, 0, originX, originY, 0] },
    ];
  }
  const matrix = [pixelWidth, rowRotation, 0, originX, columnRotation, pixelHeight, 0, originY, 0, 0, 0, 0, 0, 0, 0, 1];
  return [{ tag: Tag.ModelTransformation, type: FieldType.Double, values: matrix }];
}
