// mood.* procedures (API.md).
import { router } from '../trpc/init.ts';

export const moodRouter = router({});
