// A table of rows with @tanstack/react-table (columns, server-side sorting) rendered with
// Mantine's Table. Sortable headers are buttons; aria-sort tells the current order.
import { Table, Text, UnstyledButton } from '@mantine/core';
import {
  type ColumnDef,
  flexRender,
  getCoreRowModel,
  type OnChangeFn,
  type SortingState,
  useReactTable,
} from '@tanstack/react-table';

export function DataTable<Row>(props: {
  caption: string;
  data: Row[];
  // biome-ignore lint/suspicious/noExplicitAny: column value types differ per column (react-table's own typing)
  columns: Array<ColumnDef<Row, any>>;
  getRowId: (row: Row) => string;
  sorting?: SortingState;
  onSortingChange?: OnChangeFn<SortingState>;
  empty?: string;
  /** Below this width (px) the table scrolls sideways; default 600. */
  minWidth?: number;
}) {
  const table = useReactTable({
    data: props.data,
    columns: props.columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: props.getRowId,
    manualSorting: true,
    enableSortingRemoval: false,
    enableSorting: props.onSortingChange !== undefined,
    state: { sorting: props.sorting ?? [] },
    onSortingChange: props.onSortingChange,
  });
  return (
    <Table.ScrollContainer minWidth={props.minWidth ?? 600}>
      <Table striped highlightOnHover captionSide="top">
        <Table.Caption>{props.caption}</Table.Caption>
        <Table.Thead>
          {table.getHeaderGroups().map((group) => (
            <Table.Tr key={group.id}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const label = flexRender(header.column.columnDef.header, header.getContext());
                return (
                  <Table.Th
                    key={header.id}
                    scope="col"
                    aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}
                  >
                    {header.column.getCanSort() ? (
                      <UnstyledButton onClick={header.column.getToggleSortingHandler()} fw={700} fz="sm">
                        {label} {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '↕'}
                      </UnstyledButton>
                    ) : (
                      label
                    )}
                  </Table.Th>
                );
              })}
            </Table.Tr>
          ))}
        </Table.Thead>
        <Table.Tbody>
          {table.getRowModel().rows.map((row) => (
            <Table.Tr key={row.id}>
              {row.getVisibleCells().map((cell) => (
                <Table.Td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</Table.Td>
              ))}
            </Table.Tr>
          ))}
          {table.getRowModel().rows.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={props.columns.length}>
                <Text c="dimmed" size="sm">
                  {props.empty ?? 'Nothing to show'}
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
