// admin.users.* procedures (API.md).
import { router } from '../../trpc/init.ts';

export const adminUsersRouter = router({});
