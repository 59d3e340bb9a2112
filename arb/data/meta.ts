/**
 * The `meta.json` of a normalised dataset folder (see `docs/contracts.md`, "Dataset folder"):
 * what the folder holds, where its bytes came from and the train split's channel statistics.
 */
import { z } from "zod";

const hex = (len: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${len}}$`), `expected ${len} lowercase hex digits`);

/** One file the dataset was built from: where it came from and its checksums. */
export const DatasetSource = z.object({
  /** URL or local path the bytes were read from. */
  url: z.string().min(1),
  /** sha256 of the file's bytes, as read. */
  sha256: hex(64),
  /** File name (e.g. `cifar-10-binary.tar.gz`). */
  file: z.string().min(1),
  /** md5 of the file's bytes, when a published md5 was checked. */
  md5: hex(32).optional(),
  /** sha256 of the gunzipped bytes, when those were checked (recompressed mirrors). */
  contentSha256: hex(64).optional(),
}).strict();
/** One source file of a dataset. */
export type DatasetSource = z.infer<typeof DatasetSource>;

/** An extra label set (CIFAR-100 `coarse`). */
export const LabelSet = z.object({
  classes: z.number().int().positive(),
  classNames: z.array(z.string()),
}).strict();
/** An extra label set. */
export type LabelSet = z.infer<typeof LabelSet>;

/** The subset request recorded in meta.json (null when the full splits were kept). */
export const SubsetInfo = z.object({
  /** Train images kept (absent: the whole train split). */
  train: z.number().int().positive().optional(),
  /** Test images kept (absent: the whole test split). */
  test: z.number().int().positive().optional(),
  seed: z.number().int(),
  balanced: z.boolean(),
}).strict();
/** A recorded subset. */
export type SubsetInfo = z.infer<typeof SubsetInfo>;

/** Zod schema of `meta.json`. */
export const DatasetMeta = z.object({
  format: z.literal(1),
  name: z.string().min(1),
  shape: z.tuple([
    z.number().int().positive(),
    z.number().int().positive(),
    z.number().int().positive(),
  ]),
  classes: z.number().int().positive(),
  classNames: z.array(z.string()),
  splits: z.record(z.string(), z.object({ n: z.number().int().nonnegative() }).strict()),
  labelSets: z.record(z.string(), LabelSet),
  mean: z.array(z.number().min(0).max(1)),
  std: z.array(z.number().min(0).max(1)),
  sources: z.array(DatasetSource),
  subset: SubsetInfo.nullable(),
}).strict().superRefine((m, ctx) => {
  const c = m.shape[2];
  if (m.classNames.length !== m.classes) {
    ctx.addIssue({
      code: "custom",
      path: ["classNames"],
      message: `has ${m.classNames.length} names for ${m.classes} classes`,
    });
  }
  for (const [name, set] of Object.entries(m.labelSets)) {
    if (set.classNames.length !== set.classes) {
      ctx.addIssue({
        code: "custom",
        path: ["labelSets", name, "classNames"],
        message: `has ${set.classNames.length} names for ${set.classes} classes`,
      });
    }
  }
  for (const key of ["mean", "std"] as const) {
    if (m[key].length !== c) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `has ${m[key].length} values for ${c} channels`,
      });
    }
  }
  for (const split of ["train", "test"]) {
    if (!(split in m.splits)) {
      ctx.addIssue({ code: "custom", path: ["splits"], message: `lacks the "${split}" split` });
    }
  }
});
/** Parsed `meta.json`. */
export type DatasetMeta = z.infer<typeof DatasetMeta>;

/** File names inside a dataset folder. */
export const datasetFiles = {
  meta: "meta.json",
  images: (split: string) => `${split}.images.u8`,
  labels: (split: string) => `${split}.labels.i32`,
  labelSet: (split: string, set: string) => `${split}.${set}.i32`,
};
