// export.mine takes no input: anything sent is refused (BAD_REQUEST) before any work.
import { z } from 'zod';

export const exportInput = z.undefined();
