// A browser app on React with TanStack Query, as README "A React app" shows it:
// @trpc/tanstack-react-query's context, the types package for AppRouter, superjson.
// test/client-package.test.ts copies this into a fresh Vite React + TypeScript app
// (importing the packed @manas360/api-client instead of ../shared), type-checks and builds it.
// The API's CORS_ORIGINS must list the page's origin (e.g. https://app.example.com).
import { QueryClient, QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import superjson from 'superjson';
import type { AppRouter } from '../shared/index.ts';

const API_URL = 'https://api.example.com/trpc';
const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

function Mood() {
  const trpc = useTRPC();
  const plans = useQuery(trpc.subscriptions.plans.queryOptions());
  const entries = useQuery(trpc.mood.list.queryOptions({ limit: 5 }));
  const log = useMutation(trpc.mood.log.mutationOptions());
  return (
    <main>
      <p>{plans.data?.map((p) => `${p.name} ₹${p.pricePaise / 100}`).join(', ')}</p>
      <ul>
        {entries.data?.items.map((e) => (
          <li key={e.id}>
            {e.score} on {e.createdAt.toLocaleDateString()}
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => log.mutate({ score: 7, note: 'slept well' })}>
        Log 7
      </button>
      {log.error && <p role="alert">{log.error.message}</p>}
    </main>
  );
}

function App() {
  const [queryClient] = useState(() => new QueryClient());
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: API_URL,
          transformer: superjson,
          headers: () => ({ authorization: `Bearer ${sessionStorage.getItem('accessToken') ?? ''}` }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Mood />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
