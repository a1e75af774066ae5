cwlVersion: v1.2

$namespaces:
  s: https://schema.org/

s:softwareVersion: 1.0.0

$graph:
- class: Workflow
  id: main
  label: Sentinel-2 monthly cloudless mosaic
  doc: Monthly per-pixel median mosaics of Sentinel-2 L2A scenes with per-pixel cloud masking, as COGs and a STAC catalog.
  requirements:
    NetworkAccess:
      networkAccess: true
  inputs:
    start-date:
      type: string
      default: "2020-10-01"
    end-date:
      type: string
      default: "2020-12-31"
    aoi:
      type: string
      default: "-122.27508544921875,47.54687159892238,-121.96128845214844,47.745787772920934"
    bands:
      type: string[]
      default: ["nir", "red", "green"]
    collection:
      type: string
      default: "sentinel-2-l2a"
    resolution:
      type: int
      default: 100
    max_items:
      type: int
      default: 1000
    max_cloud_cover:
      type: int
      default: 25
    stac_api:
      type: string?
      doc: STAC API to search (default Planetary Computer)
  outputs:
    stac-catalog:
      outputSource: step_monthly_composite/stac-catalog
      type: Directory
  steps:
    step_monthly_composite:
      in:
        start-date: start-date
        end-date: end-date
        aoi: aoi
        bands: bands
        collection: collection
        resolution: resolution
        max_items: max_items
        max_cloud_cover: max_cloud_cover
        stac_api: stac_api
      out:
      - stac-catalog
      run: "#cloudless-mosaic"

- class: CommandLineTool
  id: cloudless-mosaic
  requirements:
    NetworkAccess:
      networkAccess: true
    EnvVarRequirement:
      envDef:
        HOME: $(runtime.outdir)
  baseCommand: ["cloudless-mosaic"]
  arguments:
  - prefix: "--output"
    valueFrom: $(runtime.outdir)
    position: 0
  inputs:
    start-date:
      type: string
      inputBinding:
        position: 1
        prefix: "--start-date"
    end-date:
      type: string
      inputBinding:
        position: 1
        prefix: "--end-date"
    aoi:
      type: string
      inputBinding:
        position: 1
        prefix: "--aoi"
    bands:
      type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: "--bands"
    collection:
      type: string
      inputBinding:
        position: 1
        prefix: "--collection"
    resolution:
      type: int
      inputBinding:
        position: 1
        prefix: "--resolution"
    max_items:
      type: int
      inputBinding:
        position: 1
        prefix: "--max-items"
    max_cloud_cover:
      type: int
      inputBinding:
        position: 1
        prefix: "--max-cloud-cover"
    stac_api:
      type: string?
      inputBinding:
        position: 1
        prefix: "--stac-api"
  outputs:
    stac-catalog:
      type: Directory
      outputBinding:
        glob: .
