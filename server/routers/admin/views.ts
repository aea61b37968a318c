// admin.views.* procedures (API.md).
import { router } from '../../trpc/init.ts';

export const adminViewsRouter = router({});
