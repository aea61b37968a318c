// The shell: sign-in, "no access" for accounts without console permissions, and the pages
// the signed-in account's permissions allow.
import { Button, Center, Group, Loader, NavLink, Stack, Text, Title } from '@mantine/core';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { ACCOUNT_PAGES, pagesFor } from './access.ts';
import { type Me, session, signOut } from './api.ts';
import { AnalyticsPage } from './pages/Analytics.tsx';
import { AuditPage } from './pages/Audit.tsx';
import { CrisisPage } from './pages/Crisis.tsx';
import { FactorsPage } from './pages/Factors.tsx';
import { JobsPage } from './pages/Jobs.tsx';
import { PrivacyNoticePage } from './pages/PrivacyNotice.tsx';
import { EnrolPage, FactorPage } from './pages/SecondFactor.tsx';
import { SessionsPage } from './pages/Sessions.tsx';
import { SignInPage } from './pages/SignIn.tsx';
import { UserDetailPage } from './pages/UserDetail.tsx';
import { UsersPage } from './pages/Users.tsx';
import { ViewsPage } from './pages/Views.tsx';
import { BASE, navigate, useLocation } from './router.tsx';

export function App() {
  const state = useSyncExternalStore(session.subscribe, session.get);
  if (state.status === 'loading')
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  if (state.status === 'signedOut') return <SignInPage message={state.message} />;
  if (state.status === 'factor')
    return <FactorPage challengeToken={state.challengeToken} factors={state.factors} />;
  // An account without console permissions is told so first (the notice is for staff work).
  if (pagesFor(state.me).length === 0) return <NoAccess me={state.me} />;
  if (state.status === 'consent') return <PrivacyNoticePage me={state.me} version={state.notice} />;
  if (state.status === 'enrol') return <EnrolPage me={state.me} />;
  return <Console me={state.me} />;
}

function NoAccess({ me }: { me: Me }) {
  return (
    <Center h="100vh" component="main">
      <Stack align="center">
        <Title order={1}>No access</Title>
        <Text>
          The account {me.email} ({me.role}) has no access to the admin console.
        </Text>
        <Button onClick={() => void signOut()}>Sign out</Button>
      </Stack>
    </Center>
  );
}

function Console({ me }: { me: Me }) {
  const { path } = useLocation();
  const pages = pagesFor(me);
  const main = useRef<HTMLElement>(null);
  const first = pages[0]!.path;
  useEffect(() => {
    if (path === '/') navigate(first, { replace: true });
  }, [path, first]);
  // After a navigation, focus moves to the new page's heading (screen readers announce it).
  const previous = useRef(path);
  useEffect(() => {
    if (previous.current === path) return;
    previous.current = path;
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [path]);

  const userMatch = /^\/users\/([0-9a-f-]{36})$/.exec(path);
  const allowed = (p: string) => pages.some((page) => page.path === p);
  let page: React.ReactNode;
  if (userMatch && allowed('/users')) page = <UserDetailPage me={me} userId={userMatch[1]!} />;
  else if (path === '/users' && allowed('/users')) page = <UsersPage />;
  else if (path === '/crisis' && allowed('/crisis')) page = <CrisisPage me={me} />;
  else if (path === '/audit' && allowed('/audit')) page = <AuditPage />;
  else if (path === '/views' && allowed('/views')) page = <ViewsPage />;
  else if (path === '/jobs' && allowed('/jobs')) page = <JobsPage />;
  else if (path === '/analytics' && allowed('/analytics')) page = <AnalyticsPage />;
  else if (path === '/sessions') page = <SessionsPage />;
  else if (path === '/factors') page = <FactorsPage me={me} />;
  else page = <Title order={1}>Not found</Title>;

  // A CSS grid (console.css), not Mantine's AppShell: AppShell sizes itself with an injected
  // <style> element, which the CSP forbids.
  return (
    <div className="layout">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Group component="header" className="layout-header" px="md" justify="space-between">
        <Text fw={700}>MANAS360 admin</Text>
        <Group>
          <Text size="sm">
            {me.email} · {me.role}
          </Text>
          <Button variant="default" size="xs" onClick={() => void signOut()}>
            Sign out
          </Button>
        </Group>
      </Group>
      <nav className="layout-nav" aria-label="Pages">
        {[...pages, ...ACCOUNT_PAGES].map((p) => (
          <NavLink
            key={p.path}
            href={BASE + p.path}
            label={p.label}
            active={path === p.path || path.startsWith(`${p.path}/`)}
            aria-current={path === p.path ? 'page' : undefined}
            onClick={(e) => {
              if (e.metaKey || e.ctrlKey || e.shiftKey) return;
              e.preventDefault();
              navigate(p.path);
            }}
          />
        ))}
      </nav>
      <main id="main" className="layout-main" ref={main}>
        {page}
      </main>
    </div>
  );
}
