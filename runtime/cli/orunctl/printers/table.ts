/**
 * `orunctl get` tables: uppercase headers, columns padded by 3 spaces, `<none>` for an empty
 * cell. A TablePrinter remembers column widths so watch rows line up under the header.
 */
import type { WireObject } from '../../../api/types.ts';
import { NO_COLOR, statusColor, type Palette } from './color.ts';
import { columnsFor } from './columns.ts';
import { GET_TABLE, formatCells } from '../../tabwriter.ts';

export interface TableOptions {
  /** -o wide. Default false. */
  wide?: boolean;
  /** Prefix names with the kind (`deployment/web`), as `get all` does. Default false. */
  withKind?: boolean;
  /** The time ages are computed against. */
  now: Date;
  /** Default: no colour. */
  palette?: Palette;
}

const COLORED = new Set(['STATUS', 'READY']);

export class TablePrinter {
  private readonly widths: number[] = [];
  private readonly kind: string;
  private readonly options: TableOptions;

  constructor(kind: string, options: TableOptions) {
    this.kind = kind;
    this.options = options;
  }

  /** The header line and one line per object. */
  table(objects: readonly WireObject[]): string {
    const columns = columnsFor(this.kind, this.options.wide === true);
    return this.format([columns.map((c) => c.header), ...objects.map((o) => this.cells(o))]);
  }

  /** One line for `obj`, aligned with what was printed before (for -w). */
  row(obj: WireObject, now: Date = this.options.now): string {
    return this.format([this.cells(obj, now)]);
  }

  private cells(obj: WireObject, now: Date = this.options.now): string[] {
    const p = this.options.palette ?? NO_COLOR;
    return columnsFor(this.kind, this.options.wide === true).map((c) => {
      let text = c.cell(obj, now);
      if (c.header === 'NAME' && this.options.withKind === true) text = `${this.kind.toLowerCase()}/${text}`;
      if (text === '') return '<none>';
      if (c.header === 'READY' && /^\d+\/\d+$/.test(text)) {
        const [a, b] = text.split('/');
        return a === b ? p.green(text) : p.red(text);
      }
      return COLORED.has(c.header) ? statusColor(p, text) : text;
    });
  }

  private format(lines: string[][]): string {
    return formatCells(lines, GET_TABLE, this.widths);
  }
}

/** A whole table (no remembered widths). */
export function printTable(kind: string, objects: readonly WireObject[], options: TableOptions): string {
  return new TablePrinter(kind, options).table(objects);
}
