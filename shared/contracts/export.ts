// export.mine (server/routers/export.ts): the caller's complete data as one JSON document, in
// chunks: downloaded from GET /export, or read with httpBatchStreamLink. One an hour.
import type { Contracts } from '../contract.ts';
import { exportInput } from '../inputs/export.ts';
import { downloadOutput } from './common.ts';

export const exportContract = {
  mine: {
    meta: {
      auth: 'user',
      permission: 'data.export',
      feature: 'data_export',
      verifiedEmail: true,
      openapi: { summary: "The caller's complete data as one JSON document" },
    },
    input: exportInput,
    output: downloadOutput,
  },
} satisfies Contracts;
