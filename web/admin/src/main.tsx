import '@mantine/core/styles.css';
import './console.css';
import { MantineProvider } from '@mantine/core';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { api, queryClient, resume, TRPCProvider } from './api.ts';

void resume();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {/* Mantine's defaults come from its stylesheet: no <style> elements are injected (the CSP allows none).
        Transitions honour the system's reduced-motion setting. */}
    <MantineProvider
      withCssVariables={false}
      withGlobalClasses={false}
      forceColorScheme="light"
      theme={{ respectReducedMotion: true }}
    >
      <QueryClientProvider client={queryClient}>
        <TRPCProvider trpcClient={api} queryClient={queryClient}>
          <App />
        </TRPCProvider>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
