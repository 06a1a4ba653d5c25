/** One mixed batch as a teacher sees it: clean images plus how to mix them. */
export interface MixedBatchQuery {
  /** uint8 clean images [B,H,W,C] */
  images: Uint8Array;
  shape: [number, number, number, number];
  partner: Int32Array;
  lambda: Float32Array;
  /**
   * The images as rows of a fingerprinted data set split (sourceRows), when
   * known: a remote teacher holding that split is sent these instead.
   */
  rows?: { dataset: string; rows: Uint32Array };
}

/**
 * Where a student gets its soft labels: a remote teacher server or a model in
 * the same process. Both return the raw logits [B,K] on the mixed batch.
 */
export interface TeacherSource {
  readonly kind: 'remote' | 'in-process';
  /** Where the logits come from, for results and logs. */
  readonly address: string;
  readonly model: string;
  softLabels(query: MixedBatchQuery): Promise<Float32Array>;
  /**
   * Logits for several batches, in order, as `softLabels` would answer each.
   * A source that can sends them in fewer requests (a remote teacher packs
   * whole batches up to its server's limits); the trainer uses it for its
   * steps' queries when present.
   */
  softLabelsMany?(queries: readonly MixedBatchQuery[]): Promise<Float32Array[]>;
  /**
   * Logits on the mixed batch and on its clean images, for the vicinal
   * analysis (a remote teacher answers both in one "mix on the teacher" call).
   */
  softLabelsWithConstituents?(
    query: MixedBatchQuery,
  ): Promise<{ mixed: Float32Array; clean: Float32Array }>;
  close(): Promise<void>;
}
