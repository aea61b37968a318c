// Small shared pieces: page title, error alert, an action's busy/error state, confirmation
// dialog, keyset pager.
import { Alert, Button, type ButtonProps, Group, Modal, Stack, Text, Title } from '@mantine/core';
import { type ReactNode, useState } from 'react';

/** The page's h1; focusable so navigation can move focus to it. */
export function PageTitle({ children }: { children: ReactNode }) {
  return (
    <Title order={1} tabIndex={-1} mb="md" size="h2">
      {children}
    </Title>
  );
}

export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <Alert color="red" role="alert" title="Something went wrong" mb="md">
      {error instanceof Error ? error.message : String(error)}
    </Alert>
  );
}

/** An action started by a button: busy while it runs, its error kept to show (ErrorAlert). */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/**
 * A button that asks before it acts: the dialog names what will happen; Confirm runs
 * onConfirm (its error shows in the dialog), Cancel or Escape closes it.
 */
export function ConfirmAction(props: {
  label: string;
  /** The button's accessible name when `label` alone is ambiguous (one button per table row). */
  ariaLabel?: string;
  title: string;
  message: ReactNode;
  onConfirm: () => Promise<unknown>;
  color?: ButtonProps['color'];
  disabled?: boolean;
  /** Extra fields (e.g. a reason); confirmDisabled keeps Confirm off until they are valid. */
  children?: ReactNode;
  confirmDisabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setOpen(false);
    setError(null);
  };
  return (
    <>
      <Button
        color={props.color}
        variant="light"
        disabled={props.disabled}
        aria-label={props.ariaLabel}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </Button>
      <Modal
        opened={open}
        onClose={close}
        title={props.title}
        centered
        closeButtonProps={{ 'aria-label': 'Close' }}
        // Scroll locking injects a <style> element (react-remove-scroll), which the CSP forbids.
        lockScroll={false}
      >
        <Stack>
          <Text>{props.message}</Text>
          {props.children}
          <ErrorAlert error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button
              color={props.color}
              loading={busy}
              disabled={props.confirmDisabled}
              onClick={async () => {
                setBusy(true);
                try {
                  await props.onConfirm();
                  close();
                } catch (err) {
                  setError(err);
                } finally {
                  setBusy(false);
                }
              }}
            >
              Confirm
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

/** Keyset pages: a stack of the cursors that led here; reset() when the filters change. */
export function useKeysetPages() {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    next: (cursor: string) => setCursors((c) => [...c, cursor]),
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reset: () => setCursors([undefined]),
  };
}

export function Pager(props: {
  pages: ReturnType<typeof useKeysetPages>;
  nextCursor: string | null | undefined;
  label: string;
}) {
  const { pages, nextCursor } = props;
  return (
    <Group component="nav" aria-label={`${props.label} pages`} mt="sm">
      <Button variant="default" disabled={pages.page === 1} onClick={pages.previous}>
        Previous page
      </Button>
      <Text size="sm" aria-live="polite">
        Page {pages.page}
      </Text>
      <Button variant="default" disabled={!nextCursor} onClick={() => nextCursor && pages.next(nextCursor)}>
        Next page
      </Button>
    </Group>
  );
}

export const formatTime = (d: Date | null | undefined) =>
  d ? d.toISOString().replace('T', ' ').slice(0, 19) : '—';
