/**
 * CSV member imports: upload → start → run (a job) → merge → report. The pure rules (which
 * service a file came from, one record → one member or a rejection) live in formats.ts; each
 * phase of the I/O has its file, and this one is what the rest of Hearth imports.
 *
 * - upload.ts: createImport streams the upload into import_chunks and reads only the head of the
 *   file (format, mapping, preview); startImport checks the staff's options and queues the run.
 * - run.ts: runImport, the job: chunks → csv-parse → mapRow → COPY into staging, then the merge.
 * - merge.ts: staging into members in ONE set-based transaction (all or nothing).
 * - read.ts: getImport, listImports, importView, rejectionsCsv.
 */
export { createImport, discardUploadedImport, startImport, type ImportOptions } from './upload.ts';
export { markImportFailed, runImport } from './run.ts';
export { resumeImports } from './recovery.ts';
export { planImport, validateBulkKeys, type ImportSummary, type PlanChoice } from './merge.ts';
export {
  changesCsv,
  getImport,
  importView,
  listChanges,
  listImports,
  rejectionsCsv,
  type ImportChange,
  type ImportRecord,
} from './read.ts';
