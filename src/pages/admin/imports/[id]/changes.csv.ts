import type { APIRoute } from 'astro';
import { changesCsv, getImport } from '../../../../domain/imports/pipeline.ts';
import { csvDownload } from '../../../../web/http.ts';

/** The existing members an import changes (or, previewed, will change), streamed. */
export const GET: APIRoute = ({ params, locals }) =>
  csvDownload(
    `import-${params.id}-changes`,
    async () => {
      await getImport(locals.runtime.db, params.id!);
      return changesCsv(locals.runtime.db, params.id!);
    },
    { dated: false },
  );
