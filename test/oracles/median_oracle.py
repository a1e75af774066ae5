"""Independent oracle for the monthly median: GDAL warps every scene onto the grid (nearest neighbour),
numpy takes the per-pixel median of the valid observations. Used by the jest tests, run with Debian's
/usr/bin/python3 (osgeo + numpy).

stdin: {"grid": {"epsg", "transform", "width", "height"}, "mask": [classes],
        "scenes": [{"bands": [path, ...], "scl": path, "dnOffset": int}], "out": folder}
writes: out/median.bin (uint16, band after band), out/clear.bin (uint8: 1 where some scene has an
observation whose SCL class is not masked by the default mask [0, 1, 3, 8, 9, 10]).
grid may carry "tileSize": the warp then runs window by window over the tiles the process composites."""
import json
import os
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()
CLEAR_MASK = [0, 1, 3, 8, 9, 10]


def warp_window(path, grid, x, y, width, height):
    origin_x, pixel_w, _, origin_y, _, pixel_h = grid["transform"]
    left, top = origin_x + x * pixel_w, origin_y + y * pixel_h
    bounds = [left, top + height * pixel_h, left + width * pixel_w, top]
    dataset = gdal.Warp("", path, format="MEM", dstSRS=f"EPSG:{grid['epsg']}", outputBounds=bounds,
                        xRes=pixel_w, yRes=-pixel_h, resampleAlg="near", srcNodata=0, dstNodata=0)
    return dataset.GetRasterBand(1).ReadAsArray()


def warp(path, grid):
    """gdalwarp onto the grid, window by window of the same tiles the process composites, so that GDAL's
    approximate transformer interpolates over the same spans (its 0.125 px error otherwise moves ties)."""
    tile = grid.get("tileSize", max(grid["width"], grid["height"]))
    out = np.zeros((grid["height"], grid["width"]), dtype=np.float64)
    for y in range(0, grid["height"], tile):
        for x in range(0, grid["width"], tile):
            width, height = min(tile, grid["width"] - x), min(tile, grid["height"] - y)
            out[y:y + height, x:x + width] = warp_window(path, grid, x, y, width, height)
    return out


def main():
    request = json.load(sys.stdin)
    grid, mask = request["grid"], request["mask"]
    scenes = request["scenes"]
    band_count = len(scenes[0]["bands"])
    scl = np.stack([warp(scene["scl"], grid) for scene in scenes])
    valid = ~np.isin(scl, mask) if mask else np.ones(scl.shape, dtype=bool)
    clear = (~np.isin(scl, CLEAR_MASK)).any(axis=0)
    medians = []
    for band in range(band_count):
        stack = np.stack([warp(scene["bands"][band], grid).astype(np.float64) for scene in scenes])
        for index, scene in enumerate(scenes):
            layer = stack[index]
            data = layer > 0
            layer[data] = np.maximum(layer[data] + scene["dnOffset"], 1)
        stack[(stack == 0) | ~valid] = np.nan
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=RuntimeWarning)
                median = np.nanmedian(stack, axis=0)
        medians.append(np.where(np.isnan(median), 0, np.floor(median + 0.5)).astype(np.uint16))
    os.makedirs(request["out"], exist_ok=True)
    np.stack(medians).tofile(os.path.join(request["out"], "median.bin"))
    clear.astype(np.uint8).tofile(os.path.join(request["out"], "clear.bin"))


main()
