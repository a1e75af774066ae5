/** The parts of STAC documents the client, band resolver and writer use. Unknown members are kept as-is. */

export interface StacLink {
  rel: string;
  href: string;
  type?: string;
  title?: string;
  /** STAC API paging: POST links carry a body, possibly merged into the previous request's body. */
  method?: 'GET' | 'POST';
  body?: Record<string, unknown>;
  merge?: boolean;
  headers?: Record<string, string>;
}

export interface EoBand {
  name?: string;
  common_name?: string;
  description?: string;
  center_wavelength?: number;
  full_width_half_max?: number;
}

export interface RasterBand {
  nodata?: number | 'nan' | 'inf' | '-inf';
  data_type?: string;
  scale?: number;
  offset?: number;
  spatial_resolution?: number;
  unit?: string;
  statistics?: { minimum?: number; maximum?: number; mean?: number; stddev?: number; valid_percent?: number };
}

export interface StacAsset {
  href: string;
  type?: string;
  title?: string;
  roles?: string[];
  'eo:bands'?: EoBand[];
  'raster:bands'?: RasterBand[];
  /** STAC 1.1 unified bands. */
  bands?: (EoBand & RasterBand & { 'eo:common_name'?: string })[];
  [key: string]: unknown;
}

export interface StacItem {
  type: 'Feature';
  stac_version?: string;
  stac_extensions?: string[];
  id: string;
  collection?: string;
  geometry: { type: string; coordinates: unknown } | null;
  bbox?: number[];
  properties: { datetime: string | null; [key: string]: unknown };
  assets: Record<string, StacAsset>;
  links?: StacLink[];
}

export interface ItemCollection {
  type: 'FeatureCollection';
  features: StacItem[];
  links?: StacLink[];
  context?: Record<string, unknown>;
  numberMatched?: number;
  numberReturned?: number;
}
