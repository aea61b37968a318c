// Analytics: users by plan and by role, assessments by severity per day, bookings and
// crisis alerts per day (recharts). Each chart has a caption and a text summary.
import { Group, Paper, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { useTRPC } from '../api.ts';
import { ErrorAlert, formatTime, PageTitle } from '../components/ui.tsx';

const SEVERITY_COLORS = {
  minimal: '#2f9e44',
  mild: '#74b816',
  moderate: '#f08c00',
  'moderately severe': '#e8590c',
  severe: '#c92a2a',
} as const;
const DAYS = 30;

const pairs = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([name, users]) => ({ name, users }))
    .sort((a, b) => b.users - a.users);

function Chart({ title, summary, children }: { title: string; summary: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md" component="figure" m={0}>
      <Title order={2} size="h4" component="figcaption">
        {title}
      </Title>
      <Text size="sm" c="dimmed" mb="xs">
        {summary}
      </Text>
      <div className="chart">
        <ResponsiveContainer>{children as React.ReactElement}</ResponsiveContainer>
      </div>
    </Paper>
  );
}

export function AnalyticsPage() {
  const trpc = useTRPC();
  const overview = useQuery(trpc.analytics.overview.queryOptions());
  const activity = useQuery(trpc.analytics.activity.queryOptions({ days: DAYS }));
  const o = overview.data;
  const days = activity.data?.days ?? [];
  const total = (key: 'bookings' | 'crisisAlerts' | 'assessments') =>
    days.reduce(
      (n, d) =>
        n + (key === 'assessments' ? Object.values(d.assessments).reduce((a, b) => a + b, 0) : d[key]),
      0,
    );
  const assessmentRows = days.map((d) => ({ day: d.day, ...d.assessments }));

  return (
    <>
      <PageTitle>Analytics</PageTitle>
      <ErrorAlert error={overview.error ?? activity.error} />
      {o && (
        <Group mb="md">
          <Stat label="Active subscriptions" value={o.activeSubscriptions} />
          <Stat label="Open crisis alerts" value={o.openCrisisAlerts} />
          <Stat label="Upcoming sessions" value={o.upcomingSessions} />
          <Text size="sm" c="dimmed">
            User counts as of the last view refresh: {formatTime(o.viewsRefreshedAt)}
          </Text>
        </Group>
      )}
      <div className="two-columns">
        {o && (
          <Chart
            title="Users by plan"
            summary={pairs(o.usersByPlan)
              .map((p) => `${p.name} ${p.users}`)
              .join(', ')}
          >
            <BarChart data={pairs(o.usersByPlan)}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="name" />
              <YAxis allowDecimals={false} />
              <Tooltip />
              <Bar dataKey="users" fill="#1c7ed6" isAnimationActive={false} />
            </BarChart>
          </Chart>
        )}
        {o && (
          <Chart
            title="Users by role"
            summary={pairs(o.usersByRole)
              .map((p) => `${p.name} ${p.users}`)
              .join(', ')}
          >
            <BarChart data={pairs(o.usersByRole)}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="name" />
              <YAxis allowDecimals={false} />
              <Tooltip />
              <Bar dataKey="users" fill="#7048e8" isAnimationActive={false} />
            </BarChart>
          </Chart>
        )}
        <Chart
          title={`Assessments by severity per day (last ${DAYS} days)`}
          summary={`${total('assessments')} assessments`}
        >
          <BarChart data={assessmentRows}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="day" />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Legend />
            {Object.entries(SEVERITY_COLORS).map(([severity, color]) => (
              <Bar key={severity} dataKey={severity} stackId="s" fill={color} isAnimationActive={false} />
            ))}
          </BarChart>
        </Chart>
        <Chart
          title={`Bookings per day (last ${DAYS} days)`}
          summary={`${total('bookings')} sessions booked`}
        >
          <LineChart data={days}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="day" />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Line dataKey="bookings" stroke="#0ca678" isAnimationActive={false} />
          </LineChart>
        </Chart>
        <Chart
          title={`Crisis alerts per day (last ${DAYS} days)`}
          summary={`${total('crisisAlerts')} alerts`}
        >
          <BarChart data={days}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="day" />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Bar dataKey="crisisAlerts" name="crisis alerts" fill="#e03131" isAnimationActive={false} />
          </BarChart>
        </Chart>
      </div>
    </>
  );
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {value.toLocaleString('en-US')}
      </Text>
    </Paper>
  );
}
