/**
 * Datasets: verified downloads, format readers, the normalised dataset folder and the seeded
 * loader. See `docs/contracts.md`, "Dataset folder".
 *
 * @example
 * import { createLoader, readDataset } from "./arb/data/mod.ts";
 * const ds = await readDataset(dir);
 * const loader = createLoader({ data: ds.split("train"), batchSize: 256, seed: 0 });
 */
export { datasetFiles, type DatasetMeta } from "./meta.ts";
export { type Dataset, type DatasetSplit, readDataset } from "./reader.ts";
export { type Batch, createLoader, epochRng, type Loader, type LoaderOptions } from "./loader.ts";
export { classCounts, selectSubset, type SubsetOptions, subsetSplit } from "./subset.ts";
export { type FetchContext, fetchDataset } from "./fetch.ts";
export { FetchParams } from "./params.ts";
export { DatasetWriter, type SplitData } from "./writer.ts";
